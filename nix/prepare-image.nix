# nix/prepare-image.nix — finds an image's packages in a package set (builtins only).
#
# Takes { srcType, srcArgs, system, packages }, four strings: the first three go to
# load-pkgs.nix (see there; e.g. srcType "path", srcArgs {"path": "/abs/nix/demo"}), and
# `packages` is a JSON list of package names, already validated by the server.
#
#   nix-build /abs/nix/prepare-image.nix --argstr srcType path \
#     --argstr srcArgs '{"path":"/abs/nix/demo"}' --argstr system x86_64-linux \
#     --argstr packages '["hello","cacert"]' --out-link <gcroot>
#
# Returns, when every name is found, the list of their derivations (duplicates removed, in the
# order asked): nix-build builds them and prints their output paths, the roots of the image.
# It also traces `nixyard-roots: {"name": "/nix/store/…", …}` (stderr): the output of each name,
# `nixyard-derivations: {"name": {"drv": "/nix/store/….drv", "output": "out"}, …}`: the derivation
# and output name that give it (so that a later build can root it by nix-build without
# evaluating the set), and `nixyard-licenses: {"name": ["MIT", …], …}`: the licenses its
# meta.license states (the SPDX id where the set gives one, else the short or full name), for
# the image's SBOM.
#
# Looking a name up (as Nixery does): a dotted name is an attribute path (`xorg.xev`). At each
# step the exact attribute wins; then, for a name that begins with a digit, the same name with
# a `_` in front (`1password` → `_1password`, as nixpkgs spells them); then the same two
# compared case-insensitively (`haskellpackages` → `haskellPackages`; image names are lower
# case). Among attributes that differ only in case, the first in sorted order wins.
#
# When names cannot be used, evaluation throws one line, the first of these that applies, so the
# server can read it from stderr (after Nix's "error: ") instead of a stack trace:
#   nixyard-missing-packages: ["a","b"]     not in the set (sorted JSON list)
#   nixyard-not-a-package: ["xorg"]         found, but not a derivation (e.g. a package set)
#   nixyard-refused-packages: {"x":"unfree"} found, but nixpkgs refuses to evaluate them; the
#                                           reason is one of broken, unfree, insecure, unsupported
# Any other evaluation error of a package is left as Nix reports it.
{ srcType, srcArgs, system, packages }:

let
  inherit (builtins) attrNames elem filter foldl' fromJSON isAttrs isList length listToAttrs
    map match replaceStrings sort split toJSON tryEval;

  pkgs = import ./load-pkgs.nix { inherit srcType srcArgs system; };
  names = fromJSON packages;

  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  toLower = replaceStrings upper lower;

  # Whether evaluating `x` with `f` succeeds and gives true.
  safely = f: x: let r = tryEval (f x); in r.success && r.value;

  # lower-cased attribute name → attribute name; listToAttrs keeps the first of equal names.
  fold = set: listToAttrs (map (n: { name = toLower n; value = n; }) (attrNames set));
  # Computed once for the top level (nixpkgs has tens of thousands of names), when first needed.
  foldedPkgs = fold pkgs;

  # The attribute of `set` that `key` names (see the rules above), or null. `folded` is
  # `fold set`, passed in so that the top level's is shared.
  findKey = set: folded: key:
    let
      keys = [ key ] ++ (if match "[0-9].*" key != null then [ "_${key}" ] else [ ]);
      exact = filter (k: set ? ${k}) keys;
      inexact = map (k: folded.${toLower k}) (filter (k: folded ? ${toLower k}) keys);
    in
    if exact != [ ] then builtins.head exact
    else if inexact != [ ] then builtins.head inexact
    else null;

  # name → { status = "found" | "missing" | "not-a-package" | "error"; value; }
  lookup = name:
    let
      step = acc: key:
        if acc.status != "found" then acc
        else if !(safely isAttrs acc.value) then
          (if (tryEval acc.value).success then { status = "missing"; } else acc // { status = "error"; })
        else
          let k = findKey acc.value (if acc.top then foldedPkgs else fold acc.value) key; in
          if k == null then { status = "missing"; } else { status = "found"; top = false; value = acc.value.${k}; };
      path = filter (s: !(isList s)) (split "\\." name);
      r = foldl' step { status = "found"; top = true; value = pkgs; } path;
    in
    if r.status != "found" then r
    else if safely (v: v.type or null == "derivation") r.value then r
    else if (tryEval r.value).success then r // { status = "not-a-package"; }
    else r // { status = "error"; };

  results = map (name: { inherit name; } // lookup name) names;
  namesWith = status: sort (a: b: a < b) (map (r: r.name) (filter (r: r.status == status) results));

  # Why nixpkgs refuses a package whose derivation does not evaluate, read from its meta.
  refusal = drv:
    let
      meta = drv.meta or { };
      licenses = let l = meta.license or [ ]; in if isList l then l else [ l ];
    in
    if safely (m: m.broken or false) meta then "broken"
    else if safely (ls: builtins.any (l: isAttrs l && (l.free or true) == false) ls) licenses then "unfree"
    else if safely (m: (m.knownVulnerabilities or [ ]) != [ ]) meta then "insecure"
    else if safely (m: (m.available or true) == false) meta then "unsupported"
    else null;

  found = filter (r: r.status == "found") results;

  # The names of the licenses `meta.license` states (one license or a list); [ ] when it does not
  # evaluate.
  licenseNames = drv:
    let
      stated = (drv.meta or { }).license or [ ];
      nameOf = l: if isAttrs l then l.spdxId or l.shortName or l.fullName or "unknown" else toString l;
      names = tryEval (toJSON (map nameOf (if isList stated then stated else [ stated ])));
    in
    if names.success then fromJSON names.value else [ ];
  refused = filter (r: r.reason != null)
    (map (r: r // { reason = if (tryEval r.value.drvPath).success then null else refusal r.value; }) found);

  missing = namesWith "missing";
  notPackages = namesWith "not-a-package";

  # Derivations in the order asked, each once.
  drvs = foldl' (acc: r: if elem r.value.outPath (map (d: d.outPath) acc) then acc else acc ++ [ r.value ]) [ ]
    (filter (r: r.status == "found" || r.status == "error") results);

in
if missing != [ ] then throw "nixyard-missing-packages: ${toJSON missing}"
else if notPackages != [ ] then throw "nixyard-not-a-package: ${toJSON notPackages}"
else if refused != [ ] then
  throw "nixyard-refused-packages: ${toJSON (listToAttrs (map (r: { inherit (r) name; value = r.reason; }) refused))}"
else
  # Which store path each name gave (the server remembers them per revision, so that a new
  # combination of known names needs no evaluation); a name whose output does not evaluate
  # gives null, and nix-build reports its error.
  builtins.trace "nixyard-licenses: ${toJSON (listToAttrs (map (r: { inherit (r) name; value = licenseNames r.value; }) found))}"
  (builtins.trace "nixyard-derivations: ${toJSON (listToAttrs (map (r: { inherit (r) name; value = let d = tryEval r.value.drvPath; in if d.success then { drv = d.value; output = r.value.outputName or "out"; } else null; }) found))}"
  (builtins.trace "nixyard-roots: ${toJSON (listToAttrs (map (r: { inherit (r) name; value = let p = tryEval r.value.outPath; in if p.success then p.value else null; }) found))}" drvs))
