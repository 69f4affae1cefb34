// Bundle bpmn-js (viewer and modeller) into ../web/static/vendor/ and copy the licence of every bundled package beside it.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontendDir = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(frontendDir, '../web/static/vendor');
const LICENCE_FILE = /^(licen[cs]e|copying)(\.(md|txt))?$/i;

// The app's CSP has no 'unsafe-inline' for styles, so style attributes parsed from HTML strings are blocked.
// These are the ones the properties panel creates; src/modeler.css sets the same rules by class instead.
const INLINE_STYLE_PATCHES = {
  'bpmn-js-properties-panel/dist/index.esm.js': [
    ['<div style="height: 100%" tabindex="-1" class="bio-properties-panel-container"></div>', '<div tabindex="-1" class="bio-properties-panel-container"></div>'],
    ['<div style="flex: none; height: auto" class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container"></div>', '<div class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container"></div>']
  ]
};

// Remove the inline styles listed above, failing the build when a new package version no longer has them.
const removeInlineStyles = {
  name: 'remove-inline-styles',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.js$/ }, (args) => {
      const key = Object.keys(INLINE_STYLE_PATCHES).find((suffix) => args.path.endsWith(`node_modules/${suffix}`));
      if (!key) {
        return undefined;
      }
      let contents = readFileSync(args.path, 'utf8');
      for (const [from, to] of INLINE_STYLE_PATCHES[key]) {
        if (!contents.includes(from)) {
          throw new Error(`${key} no longer contains ${from}: check its inline styles and update INLINE_STYLE_PATCHES`);
        }
        contents = contents.replace(from, to);
      }
      return { contents, loader: 'js' };
    });
  }
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  absWorkingDir: frontendDir,
  entryPoints: {
    'bpmn-viewer': 'src/viewer.js',
    'bpmn-viewer-style': 'src/viewer.css',
    'bpmn-modeler': 'src/modeler.js',
    'bpmn-modeler-style': 'src/modeler.css'
  },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir,
  assetNames: 'fonts/[name]-[hash]',
  loader: { '.eot': 'file', '.svg': 'file', '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  // The licences are copied whole below, so the bundles stay free of repeated comment blocks.
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  plugins: [removeInlineStyles],
  logLevel: 'info'
});

// Find the package root (the folder with package.json) of each bundled input file.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const marker = input.lastIndexOf('node_modules/');
  if (marker === -1) {
    continue;
  }
  const rest = input.slice(marker + 'node_modules/'.length).split('/');
  const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  const root = join(frontendDir, input.slice(0, marker), 'node_modules', name);
  packages.set(name, root);
}

const missing = [];
const sections = [];
for (const name of [...packages.keys()].sort()) {
  const root = packages.get(name);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const licenceName = readdirSync(root).find((file) => LICENCE_FILE.test(file));
  let text;
  if (licenceName) {
    text = readFileSync(join(root, licenceName), 'utf8').trim();
  } else if (manifest.license) {
    // Some packages publish only the licence name in package.json, so record that name rather than invent the text.
    text = `This package ships no licence file. Its package.json declares the ${manifest.license} licence, author ${JSON.stringify(manifest.author ?? 'not stated')}, source ${manifest.repository?.url ?? manifest.homepage ?? 'not stated'}.`;
  } else {
    missing.push(name);
    continue;
  }
  sections.push(`${name} ${manifest.version} (${manifest.license})\n${'='.repeat(60)}\n${text}\n`);
}

if (missing.length) {
  throw new Error(`no licence file and no package.json licence in ${missing.join(', ')}: check their terms before bundling them`);
}

writeFileSync(
  join(outdir, 'THIRD-PARTY-LICENCES.txt'),
  `Licences of the npm packages bundled into the files in this folder, built by frontend/build.mjs.\n\n${sections.join('\n')}`
);
console.log(`bundled ${packages.size} packages; licences written to ${relative(process.cwd(), join(outdir, 'THIRD-PARTY-LICENCES.txt'))}`);
if (!existsSync(join(outdir, 'bpmn-modeler.js'))) {
  throw new Error('bpmn-modeler.js was not written');
}
