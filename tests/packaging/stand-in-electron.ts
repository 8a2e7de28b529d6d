// The stand-in Electron dist the packaging tests pack against (the Electron binary cannot be
// downloaded on the build machines): just enough of Electron.app for electron-builder.
import fs from 'node:fs';
import path from 'node:path';
import { fuseCarrier, MAC_FUSE_FILE } from './stand-in-fuses.js';

/** The first bytes of a 64-bit arm64 Mach-O: enough for electron-builder and the signing hook to take it for one. */
export const MACHO = Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01, 0, 0, 0, 0]);

export function put(file: string, content: Buffer | string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
}

export function infoPlist(exe: string, id: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CFBundleExecutable</key><string>${exe}</string>
  <key>CFBundleIdentifier</key><string>${id}</string>
  <key>CFBundleName</key><string>${exe}</string>
  <key>CFBundleDisplayName</key><string>${exe}</string>
  <key>CFBundleIconFile</key><string>electron.icns</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>CFBundleVersion</key><string>45.5.0</string>
  <key>CFBundleShortVersionString</key><string>45.5.0</string>
</dict>
</plist>
`;
}

/** What electron-builder needs of a macOS Electron dist: Electron.app/Contents/{Info.plist, MacOS/Electron, Resources/electron.icns, Frameworks/Electron Helper*.app}. */
export function macStandIn(dir: string): void {
  const c = path.join(dir, 'Electron.app', 'Contents');
  put(path.join(c, 'Info.plist'), infoPlist('Electron', 'com.github.Electron'));
  put(path.join(c, 'MacOS', 'Electron'), MACHO, 0o755);
  put(path.join(c, 'Resources', 'electron.icns'), 'icns');
  // where the fuse wire lives in a real Electron.app
  put(path.join(dir, 'Electron.app', MAC_FUSE_FILE), fuseCarrier(MACHO), 0o755);
  for (const suffix of ['', ' (GPU)', ' (Renderer)', ' (Plugin)']) {
    const name = `Electron Helper${suffix}`;
    const h = path.join(c, 'Frameworks', `${name}.app`, 'Contents');
    put(path.join(h, 'Info.plist'), infoPlist(name, 'com.github.Electron.helper'));
    put(path.join(h, 'MacOS', name), MACHO, 0o755);
  }
}

