// Small object helpers.

/** The entries whose value is not undefined, so spreading the result keeps defaults underneath. */
export function definedOnly<T extends object>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as never;
}
