/**
 * The users every image has, as distroless images have them: `root` (home `/root`), `nobody`, and
 * `nonroot` (uid and gid 65532, home `/home/nonroot`), in `/etc/passwd`, `/etc/group` and an
 * `/etc/nsswitch.conf` that reads them from files, so that `id`, `whoami`, ssh, git and language
 * runtimes find the current user. An image runs as root unless it asks for `nonroot`.
 */

/** Who an image runs as by default. */
export type ImageUser = 'root' | 'nonroot';

/** The unprivileged user. */
export const NONROOT = { name: 'nonroot', uid: 65532, gid: 65532, home: '/home/nonroot' } as const;
/** root's home. */
export const ROOT_HOME = '/root';

/** The files of `/etc` every image gets (unless one of its packages has them), by name. */
export const USER_FILES: Readonly<Record<string, string>> = {
  passwd: ['root:x:0:0:root:/root:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false', `nonroot:x:${NONROOT.uid}:${NONROOT.gid}:nonroot:${NONROOT.home}:/bin/sh`, ''].join('\n'),
  group: ['root:x:0:', 'nobody:x:65534:', `nonroot:x:${NONROOT.gid}:`, ''].join('\n'),
  'nsswitch.conf': ['passwd: files', 'group: files', 'shadow: files', 'hosts: files dns', 'networks: files', 'protocols: files', 'services: files', ''].join('\n'),
};

/** The `User` of an image's config and its `HOME`: numeric ids, which Kubernetes' runAsNonRoot can check. */
export function userSettings(user: ImageUser): { user?: string; home: string } {
  return user === 'nonroot' ? { user: `${NONROOT.uid}:${NONROOT.gid}`, home: NONROOT.home } : { home: ROOT_HOME };
}
