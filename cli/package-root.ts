/**
 * Where the package's own files are (package.json, bin/stadium.js), from a module of cli/: the
 * sources sit one folder below the package (cli/), the compiled modules two (dist/cli/).
 */
import { join } from 'node:path';

/** True when this runs as the JavaScript compiled into dist/, false from the TypeScript sources. */
export const compiled: boolean = !import.meta.url.endsWith('.ts');

export const packageRoot: string = join(import.meta.dirname, compiled ? '../..' : '..');

/** The `stadium` command, for starting more of them (a cluster's processes). */
export const stadiumBin: string = join(packageRoot, 'bin', 'stadium.js');
