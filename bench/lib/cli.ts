/** The command-line frame both benchmarks share. */

/**
 * Parses the arguments with `parse`; on a parse error prints it with the
 * usage and sets exit code 2; with `--help` prints the usage; otherwise runs
 * `run` and takes its exit code (0 when it returns nothing).
 */
export async function runCommand<Config extends { help: boolean }>(
  usage: string,
  parse: () => Config,
  run: (config: Config) => Promise<number | void>,
): Promise<void> {
  let config: Config;
  try {
    config = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  if (config.help) {
    console.log(usage);
    return;
  }
  process.exitCode = (await run(config)) ?? 0;
}
