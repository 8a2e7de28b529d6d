// The packaging gate for the guest-image manifests (resources/images/<arch>.json, shipped in the
// app's Resources/images/). A Mac's first Start downloads the image those manifests name; a
// placeholder (sha256 "PENDING", version "unpublished") makes that Start fail at "Guest image"
// with nothing the user can do. So packing refuses a placeholder or malformed manifest, unless
// BERTH_ALLOW_PLACEHOLDER_IMAGES=1 (local test packs only).
//
// The rules are the app's own (electron/engine/image/manifest.ts parseReleaseManifest); this copy
// is plain CommonJS because electron-builder require()s its hooks and cannot load the TypeScript.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ARCHES = ['x86_64', 'aarch64'];
const ROLES = ['kernel', 'initrd', 'disk'];
const SHA256 = /^[0-9a-f]{64}$/;
const ESCAPE = 'BERTH_ALLOW_PLACEHOLDER_IMAGES';

/** electron-builder's Arch enum (builder-util) → the guest architecture the app boots. */
const GUEST_ARCH = { 1: 'x86_64', 3: 'aarch64', x64: 'x86_64', arm64: 'aarch64' };

/** Everything wrong with one parsed manifest (empty when it can be shipped). */
function manifestProblems(json, expectArch) {
  const problems = [];
  if (!json || typeof json !== 'object' || Array.isArray(json)) return ['not a JSON object'];
  if (json.schema !== 1) problems.push(`schema is ${JSON.stringify(json.schema)}, expected 1`);
  if (!ARCHES.includes(json.arch)) problems.push(`arch ${JSON.stringify(json.arch)} is not one of ${ARCHES.join(', ')}`);
  else if (expectArch && json.arch !== expectArch) problems.push(`arch is ${json.arch}, but the file is named for ${expectArch}`);
  if (typeof json.version !== 'string' || !json.version || json.version === 'unpublished') {
    problems.push(`version is ${JSON.stringify(json.version)}: the image is not published`);
  }
  if (!Array.isArray(json.files) || json.files.length === 0) {
    problems.push('files must be a non-empty array');
    return problems;
  }
  json.files.forEach((f, i) => {
    const at = `files[${i}]`;
    if (!f || typeof f !== 'object') return problems.push(`${at} is not an object`);
    if (!ROLES.includes(f.role)) problems.push(`${at}.role ${JSON.stringify(f.role)} is not one of ${ROLES.join(', ')}`);
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(f.name)) problems.push(`${at}.name must be a plain file name`);
    if (typeof f.url !== 'string' || !/^https?:\/\//.test(f.url)) problems.push(`${at}.url must be an http(s) URL`);
    if (!Number.isSafeInteger(f.size) || f.size <= 1) problems.push(`${at}.size ${JSON.stringify(f.size)} is not a real file size`);
    if (typeof f.sha256 !== 'string' || !SHA256.test(f.sha256)) {
      problems.push(`${at}.sha256 is ${JSON.stringify(f.sha256)}, not 64 lowercase hex digits${f.sha256 === 'PENDING' ? ' (a placeholder)' : ''}`);
    }
  });
  for (const role of ROLES) {
    const n = json.files.filter((f) => f && f.role === role).length;
    if (n !== 1) problems.push(`needs exactly one file with role "${role}" (has ${n})`);
  }
  return problems;
}

/**
 * Check every <dir>/*.json, and that the one for `requiredArch` exists. Returns the problems per
 * file; throws (one message naming all of them and the way out) unless the escape is set.
 */
function checkImageManifests(dir, { requiredArch, env = process.env, label = 'resources/images' } = {}) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const problems = [];
  if (requiredArch && !files.includes(`${requiredArch}.json`)) problems.push(`${label}/${requiredArch}.json: missing (the app boots an ${requiredArch} guest)`);
  for (const f of files) {
    let json;
    try {
      json = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
      problems.push(`${label}/${f}: not JSON (${e.message})`);
      continue;
    }
    for (const p of manifestProblems(json, path.basename(f, '.json'))) problems.push(`${label}/${f}: ${p}`);
  }
  const result = { ok: problems.length === 0, problems, checked: files };
  if (result.ok) return result;
  const message =
    'Berth: refusing to pack an app whose guest-image manifest is a placeholder or invalid; its first Start would fail at "Guest image":\n' +
    problems.map((p) => `  - ${p}`).join('\n') +
    '\nPublish the images first: run the "Release images" workflow (or `bash build/release-images.sh` and upload what it lists), ' +
    'then commit the manifests it writes to resources/images/. ' +
    `For a local test pack only, set ${ESCAPE}=1.`;
  if (env[ESCAPE] === '1') return { ...result, message };
  const err = new Error(message);
  err.problems = problems;
  throw err;
}

module.exports = { manifestProblems, checkImageManifests, GUEST_ARCH, ESCAPE };
