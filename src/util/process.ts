// Whether a process still runs, for the files that name their owner's pid (a batch lock, a
// fetch's working folder, a shape build's temporary file): signal 0 checks without signalling.
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
