/**
 * Connected apps in storage, so that every replica sees the same ones: each app under
 * `connected-apps/<id>` (JSON, secrets included), and the latest build of each of its branches
 * and tags under `connected-app-refs/<id>/<ref key>`, written apart so that pushes of different
 * branches never rewrite each other.
 */
import { appRefKey, appRefsPrefix, CONNECTED_APPS_PREFIX, connectedAppKey } from '../../storage/keys.js';
import type { Storage } from '../../storage/types.js';
import { mapLimit } from '../concurrency.js';
import type { AppRefBuild, StoredApp } from './app.js';

/** Reads and writes apps. */
export class AppStore {
  constructor(private readonly storage: Storage) {}

  async list(): Promise<StoredApp[]> {
    const keys = await this.storage.list(CONNECTED_APPS_PREFIX);
    const apps = await mapLimit(keys, 16, async (key) => this.get(key.slice(CONNECTED_APPS_PREFIX.length)));
    return apps.filter((app): app is StoredApp => app !== undefined).sort((a, b) => a.image.localeCompare(b.image));
  }

  async get(id: string): Promise<StoredApp | undefined> {
    const stored = await this.storage.get(connectedAppKey(id));
    return stored && (JSON.parse(stored.toString('utf8')) as StoredApp);
  }

  async save(app: StoredApp): Promise<void> {
    await this.storage.put(connectedAppKey(app.id), JSON.stringify(app), 'application/json');
  }

  /** Removes the app and the record of its latest builds (the builds and images stay). */
  async remove(id: string): Promise<void> {
    for (const key of await this.storage.list(appRefsPrefix(id))) await this.storage.delete(key);
    await this.storage.delete(connectedAppKey(id));
  }

  /** The latest build of each branch and tag of the app. */
  async refs(id: string): Promise<AppRefBuild[]> {
    const keys = await this.storage.list(appRefsPrefix(id));
    const refs = await mapLimit(keys, 16, async (key) => this.storage.get(key));
    return refs.filter((ref): ref is Buffer => ref !== undefined).map((ref) => JSON.parse(ref.toString('utf8')) as AppRefBuild);
  }

  async ref(id: string, key: string): Promise<AppRefBuild | undefined> {
    const stored = await this.storage.get(appRefKey(id, key));
    return stored && (JSON.parse(stored.toString('utf8')) as AppRefBuild);
  }

  async saveRef(id: string, key: string, ref: AppRefBuild): Promise<void> {
    await this.storage.put(appRefKey(id, key), JSON.stringify(ref), 'application/json');
  }
}
