import { describe, expect, it } from "vitest";
import { CHROMIUM, decideChromium, INSTALL_COMMAND } from "@/scripts/ensure-chromium";

// The pretest step of `npm test`: only the decision is tested here; installing needs root and apt.
describe("decideChromium", () => {
  it("does nothing when Chromium is there", () => {
    for (const isRoot of [false, true]) for (const hasApt of [false, true]) expect(decideChromium({ exists: true, isRoot, hasApt })).toEqual({ action: "ok" });
  });

  it("installs it as root with apt-get, with the same packages as the README names", () => {
    expect(decideChromium({ exists: false, isRoot: true, hasApt: true })).toEqual({ action: "install", command: INSTALL_COMMAND });
    expect(INSTALL_COMMAND).toBe("apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core");
  });

  it("otherwise stops with one line giving the command to run", () => {
    const cases = [
      { isRoot: false, hasApt: true, command: `sudo sh -c '${INSTALL_COMMAND}'` },
      { isRoot: true, hasApt: false, command: INSTALL_COMMAND },
      { isRoot: false, hasApt: false, command: INSTALL_COMMAND },
    ];
    for (const { isRoot, hasApt, command } of cases) {
      const d = decideChromium({ exists: false, isRoot, hasApt });
      expect(d.action).toBe("stop");
      if (d.action !== "stop") continue;
      expect(d.message).not.toContain("\n");
      expect(d.message).toContain(CHROMIUM);
      expect(d.message).toContain(command);
    }
  });
});
