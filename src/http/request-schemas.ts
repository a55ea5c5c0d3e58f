/**
 * Parts of request bodies the builds and apps APIs share (zod): what a build from source may
 * change in its plan, and a callback.
 */
import { z } from 'zod';

/** A variable name the shell and the image config take. */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A package name as in image names (attribute paths with dots allowed). */
const PACKAGE = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** What a request may change in the plan of a build from source. */
export const OVERRIDE_FIELDS = {
  installCmd: z.string().min(1).max(8192).optional(),
  buildCmd: z.string().min(1).max(8192).optional(),
  startCmd: z.string().min(1).max(8192).optional(),
  pkgs: z.array(z.string().regex(PACKAGE, 'expected package names of the package set (e.g. ffmpeg)')).max(100).optional(),
  env: z.record(z.string().regex(VARIABLE, 'expected variable names of [A-Za-z0-9_], not starting with a digit'), z.string().max(65536)).optional(),
  user: z.enum(['nonroot', 'root']).optional(),
};

/** A build's callback: where its status is POSTed and the token the POSTs are signed with. */
export const CallbackSchema = z.object({ url: z.string().min(1).max(2048), token: z.string().min(16, 'expected a token of at least 16 characters (the POSTs are signed with it)').max(1024) }).strict();

/** Push targets of a build. */
export const PushSchema = z.array(z.string().min(1).max(512)).max(20);

/** Seconds a build may take. */
export const BuildTimeoutSchema = z.number().int().min(10).max(86400);

/** A zod error as one line per problem, each naming its field. */
export function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
}
