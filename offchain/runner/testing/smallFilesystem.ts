/**
 * A real, tiny filesystem for full-disk tests: a tmpfs of a few KB mounted on a test folder,
 * where writes fail with the kernel's own ENOSPC. Mounting needs privileges (root with
 * CAP_SYS_ADMIN, as in CI); where they are missing, `mountSmallFilesystem` says why instead.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface SmallFilesystem {
  dir: string;
  /** Fills the free space with a file, so that the next write fails with ENOSPC. */
  fill(): void;
  /** Deletes the filler file: writes succeed again. */
  free(): void;
  unmount(): void;
}

export function mountSmallFilesystem(dir: string, bytes: number): SmallFilesystem | { unavailable: string } {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { unavailable: `cannot mount a tmpfs here: ${stderr || (error as Error).message}` };
  }
  const filler = path.join(dir, "filler");
  return {
    dir,
    fill() {
      // One page at a time until the kernel refuses: the filesystem is then exactly full.
      const page = Buffer.alloc(4096, 0xff);
      try {
        for (let i = 0; ; i++) writeFileSync(filler, page, { flag: i === 0 ? "w" : "a" });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync("umount", [dir]);
    },
  };
}
