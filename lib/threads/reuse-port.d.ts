/** Result of {@link probeReusePort}. */
export type ReusePortProbe =
  | { supported: true }
  | {
      supported: false;
      /** What failed, e.g. the Node version and the error code of the second listen. */
      reason: string;
      /** A whole sentence for the operator: what failed and what to run instead. */
      message: string;
    };

/**
 * Whether two listeners can share a port here, found by listening twice on
 * one port of `host` (default `127.0.0.1`). Never throws.
 */
export function probeReusePort(host?: string): Promise<ReusePortProbe>;

/** Whether a Node version (`process.versions.node`) has the reusePort listen option. */
export function hasReusePortOption(version: string): boolean;
