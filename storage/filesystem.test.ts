import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStorage } from '../test/helpers/storage-contract.js';
import { createFilesystemStorage } from './filesystem.js';

describeStorage('filesystem', async () => createFilesystemStorage(await mkdtemp(join(tmpdir(), 'nixyard-fs-'))));
