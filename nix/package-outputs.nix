# nix/package-outputs.nix — the top-level packages of a package set and their outputs, for
# `nixyard popcount --pkgs` (builtins only).
#
# Takes { srcType, srcArgs, system }, the strings load-pkgs.nix takes (see there; e.g. srcType
# "path", srcArgs {"path": "/abs/nix/demo"}); `system` defaults to the running one.
#
# Returns:
#   info  { packages = [ { attr; outputs = [ "/nix/store/…" … ]; } … ];  (sorted by attr)
#           skipped  = [ attr … ]; }   top-level attributes that are derivations but cannot be
#                                      evaluated (broken, unfree, removed: evaluation throws)
#   drvs  the derivations of every output of `info.packages`, for nix-build to realise
#
#   nix-instantiate --eval --strict --json -A info nix/package-outputs.nix \
#     --argstr srcType path --argstr srcArgs '{"path":"/abs/nix/demo"}'
#   nix-build --no-out-link --keep-going -A drvs nix/package-outputs.nix --argstr …
#
# Like Nixery's popcount, only top-level attributes count: nested sets (`tools.hello2`,
# `haskellPackages.*`) and attributes that are not derivations are left out, silently.
{ srcType, srcArgs, system ? builtins.currentSystem }:

let
  inherit (builtins) attrNames concatMap deepSeq filter map tryEval;

  pkgs = import ./load-pkgs.nix { inherit srcType srcArgs system; };

  # Whether evaluating `f x` succeeds and gives true.
  safely = f: x: let r = tryEval (f x); in r.success && r.value;

  isDerivation = v: (v.type or null) == "derivation";

  outputNames = drv: drv.outputs or [ "out" ];

  # The output paths of a derivation, or null when evaluating them throws. The derivation's own
  # drvPath and outPath are evaluated first: that is where nixpkgs refuses broken and unfree
  # packages (`drv.out` may still evaluate).
  outputsOf = drv:
    let
      r = tryEval (
        let paths = map (o: drv.${o}.outPath) (outputNames drv);
        in deepSeq [ drv.drvPath drv.outPath paths ] paths);
    in if r.success then r.value else null;

  # Attributes whose value is (or evaluating it throws, but it looks like) a derivation.
  derivationNames = filter
    (name: let v = tryEval pkgs.${name}; in !v.success || safely isDerivation v.value)
    (attrNames pkgs);

  probed = map
    (name:
      let v = tryEval pkgs.${name}; in
      { inherit name; outputs = if v.success then outputsOf v.value else null; })
    derivationNames;

  good = filter (p: p.outputs != null) probed;

in
{
  info = {
    packages = map (p: { attr = p.name; inherit (p) outputs; }) good;
    skipped = map (p: p.name) (filter (p: p.outputs == null) probed);
  };
  drvs = concatMap (p: map (o: pkgs.${p.name}.${o}) (outputNames pkgs.${p.name})) good;
}
