# nix/load-pkgs.nix — loads the package set that images are built from (builtins only).
#
# Takes { srcType, srcArgs, system }, three strings (the server passes them with --argstr):
#   srcType "nixpkgs"  srcArgs {"url": "<tarball URL>", "sha256"?: "<hash>"}
#                      → builtins.fetchTarball (file:// URLs work too)
#   srcType "git"      srcArgs {"url": "<repository>", "rev": "<commit>", "ref"?: "<ref>"}
#                      → builtins.fetchGit (without "ref", all refs are fetched, so any commit
#                        of the repository can be named)
#   srcType "path"     srcArgs {"path": "/absolute/dir"}  → that directory (or .nix file)
# Every srcArgs may also hold "args": an object of extra arguments for the set's function. The
# demo set takes e.g. {"path": "/abs/nix/demo", "args": {"syntheticCount": 300}}.
#
# Returns the package set: `import <source>`; when that is a function, it is called with the
# attributes of { system; config = { allowUnfree = false; } // args.config; } // args that it
# declares (all of them when it declares none, as `{ ... }:` or `pkgs:`). nixpkgs and the demo
# set both take `system`. Naming in "args" an argument the function does not take is an error.
# Errors about the source itself start with "nixyard-bad-source:".
{ srcType, srcArgs, system }:

let
  inherit (builtins) attrNames concatStringsSep filter fromJSON functionArgs intersectAttrs
    isFunction toJSON;

  src = fromJSON srcArgs;
  bad = msg: throw "nixyard-bad-source: ${msg}";
  need = key: src.${key} or (bad "srcType ${toJSON srcType} needs ${toJSON key} in srcArgs");

  extraArgs = src.args or { };

  location =
    if srcType == "nixpkgs" then
      builtins.fetchTarball ({ url = need "url"; } // (if src ? sha256 then { inherit (src) sha256; } else { }))
    else if srcType == "git" then
      builtins.fetchGit ({ url = need "url"; rev = need "rev"; }
        // (if src ? ref then { inherit (src) ref; } else { allRefs = true; }))
    else if srcType == "path" then
      let p = need "path"; in
      if builtins.substring 0 1 p == "/" then /. + p else bad "the path ${toJSON p} is not absolute"
    else bad "unknown srcType ${toJSON srcType} (nixpkgs, git or path)";

  imported = import location;

  callArgs = { inherit system; } // extraArgs // {
    config = { allowUnfree = false; } // (extraArgs.config or { });
  };

  call = f:
    let
      declared = functionArgs f;
      unknown = filter (n: !(declared ? ${n})) (attrNames extraArgs);
    in
    if declared == { } then f callArgs
    else if unknown != [ ] then
      bad "the package set does not take the argument(s) ${concatStringsSep ", " unknown}"
    else f (intersectAttrs declared callArgs);

in
if isFunction imported then call imported else imported
