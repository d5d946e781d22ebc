/**
 * Resolves once `predicate` (sync or async) holds, asking it again every
 * `every` ms; rejects with "condition not met in time" after `ms` ms.
 */
export async function until(predicate: () => boolean | Promise<boolean>, ms = 5000, every = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
