/**
 * TEST HELPER: small applications for builds from source, written into a git work tree. Each
 * serves HTTP on `$PORT` (3000 by default) and needs no network to install: the node apps'
 * only dependency is a local `file:` package, and their lockfile is made here, offline.
 */
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, contents] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), contents);
  }
}

/**
 * A node app (Node 20) with a lockfile, a local `file:` dependency and a build step that writes
 * `dist/server.js`; it answers `<greeting> from node <major>`.
 */
export async function writeNodeApp(root: string, greeting = 'hello'): Promise<void> {
  await write(root, {
    'package.json': `${JSON.stringify({ name: 'node-web', version: '1.0.0', private: true, engines: { node: '20' }, scripts: { build: 'node build.js', start: 'node dist/server.js' }, dependencies: { greet: 'file:./vendor/greet' } }, null, 2)}\n`,
    'vendor/greet/package.json': `${JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' })}\n`,
    'vendor/greet/index.js': 'module.exports = (what) => `${what} from node ${process.versions.node.split(".")[0]}`;\n',
    'build.js': "const fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.copyFileSync('server.js', 'dist/server.js');\nconsole.log('built dist/server.js');\n",
    'server.js': `const greet = require('greet');\nrequire('http').createServer((req, res) => res.end(greet(${JSON.stringify(greeting)}) + '\\n')).listen(process.env.PORT || 3000);\n`,
    '.gitignore': 'node_modules\ndist\n',
  });
  await lockfile(root);
}

/** A node app without a start script: the build gives `startCmd`; it answers `$GREETING` and what the `hello` package prints. */
export async function writeOverridesApp(root: string): Promise<void> {
  await write(root, {
    'package.json': `${JSON.stringify({ name: 'overrides', version: '1.0.0', private: true, engines: { node: '20' } }, null, 2)}\n`,
    'main.js': "const { execFileSync } = require('child_process');\nrequire('http').createServer((req, res) => res.end(`${process.env.GREETING} / ${execFileSync('hello').toString().trim()}\\n`)).listen(process.env.PORT || 3000);\n",
  });
  await lockfile(root);
}

/** A python app (standard library only) whose nixpacks.toml names its packages: the demo set has no C compiler for nixpacks' default. */
export async function writePythonApp(root: string): Promise<void> {
  await write(root, {
    'main.py': "import http.server, os, sys\n\nclass Hello(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = f'python {sys.version_info[0]}.{sys.version_info[1]} says hi\\n'.encode()\n        self.send_response(200)\n        self.end_headers()\n        self.wfile.write(body)\n\nhttp.server.HTTPServer(('', int(os.environ.get('PORT', '3000'))), Hello).serve_forever()\n",
    'requirements.txt': '',
    'nixpacks.toml': '[phases.setup]\nnixPkgs = ["python3"]\nnixLibs = ["zlib"]\n',
  });
}

async function lockfile(root: string): Promise<void> {
  await execa('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: root });
}
