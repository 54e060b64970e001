/** Peak resident set of this process (Linux /proc), shared by the benchmark and the memory probe. */
import fs from "node:fs";

/** VmHWM (peak resident set) of this process in bytes, or null off Linux. */
export function peakRssBytes(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Resets VmHWM to the current RSS (Linux >= 4.0: writing 5 to clear_refs), so a peak read later
 * belongs to what ran in between. Returns false where the kernel does not allow it.
 */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}
