import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

async function readProcFile(pid: number, name: string, what: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${name}`, 'utf8');
  } catch (error) {
    throw new Error(`cannot read /proc/${pid}/${name} (${what} need Linux): ${(error as Error).message}`);
  }
}

/**
 * Resident set size of another process in bytes, read from `/proc/<pid>/status` (Linux only): the gateway
 * has no admin route, so its memory is measured from outside.
 */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readProcFile(pid, 'status', 'memory figures');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]) * 1024;
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime and stime in `/proc/<pid>/stat`: 100 on common builds, but asked rather than assumed. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(clockTicks) || clockTicks <= 0) throw new Error(`getconf CLK_TCK answered ${clockTicks}`);
  return clockTicks;
}

/**
 * CPU time another process has used so far, user plus system, in seconds, from `/proc/<pid>/stat` (Linux
 * only). It counts every thread of the process (the main thread, libuv's pool where WebCrypto runs, the GC's
 * helpers), to 1/USER_HZ s (10 ms at 100 Hz).
 */
export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await readProcFile(pid, 'stat', 'CPU figures');
  // Field 2, the command name, is in parentheses and may hold spaces: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error(`/proc/${pid}/stat has no utime/stime`);
  return (utime + stime) / ticksPerSecond();
}
