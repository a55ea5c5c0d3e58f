/**
 * `GET /v2/<name>/tags/list`: the tags that mean something for the package source (`latest`
 * for a channel or a path, branches and tags for a git repository: any package name can be
 * built, so every such name has these tags), or for an image built from source the tags its
 * builds stored; paginated with `n` and `last` as the spec says.
 */
import { Router } from 'express';
import { RegistryError } from '../errors.js';
/** The tags of an image name. */
export type TagLister = (name: string) => Promise<string[]>;
import { checkName } from './registry-target.js';

const TAGS_PATH = /^\/(?<name>.+)\/tags\/list$/;

/** Router for tag listing, mounted under `/v2`. */
export function tagsRouter(tagsOf: TagLister): Router {
  const router = Router();
  router.get<RegExp, { name: string }>(TAGS_PATH, async (req, res) => {
    const name = checkName(req.params.name);
    const n = typeof req.query['n'] === 'string' ? Number(req.query['n']) : undefined;
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
      throw new RegistryError('PAGINATION_NUMBER_INVALID', `n=${String(req.query['n'])} is not allowed: expected a non-negative integer`);
    }
    const last = typeof req.query['last'] === 'string' ? req.query['last'] : undefined;
    const all = [...new Set(await tagsOf(name))].sort();
    const after = last === undefined ? all : all.filter((tag) => tag > last);
    const page = n === undefined ? after : after.slice(0, n);
    if (n !== undefined && after.length > n && page.length > 0) {
      const next = `/v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}`;
      res.set('Link', `<${next}>; rel="next"`);
    }
    res.status(200).json({ name, tags: page });
  });
  return router;
}
