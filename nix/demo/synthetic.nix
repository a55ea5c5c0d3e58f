# nix/demo/synthetic.nix — a deterministic set of synthetic packages, for tests and benchmarks.
#
# Takes { count, system, busybox, buildBusybox ? busybox }: `count` packages in all, (count+1)/2
# "libraries" and count/2 "applications", a pure function of `count` (and of the busybox
# derivations). `system` is the derivations' (the building machine's), `buildBusybox` runs the
# builds and `busybox` is what the scripts run (the target system's; see default.nix). The data
# files are the same bytes for every target.
# Returns { packages, libs, apps, info }:
#   packages  { "synth-lib-001" = <drv>; …; "synth-app-001" = <drv>; … }
#   libs      [ "synth-lib-001" … ]        apps  [ "synth-app-001" … ]
#   info      { "<name>" = { size = <bytes of its data file>; deps = [ "<lib name>" … ]; }; }
#
# synth-lib-NNN: lib/libsynth-lib-NNN.so (SIZE bytes of deterministic, nearly incompressible
#   data: the gzip stream of a seeded `seq`) and nix-support/check.sh, a shell fragment that
#   checks that file's size and then sources the check.sh of each library it depends on. The
#   store paths written into check.sh are the real references Nix records.
# synth-app-NNN: bin/synth-app-NNN (checks its own data file and sources the check.sh of its
#   direct libraries, which check theirs, each library once) then prints "synth-app-NNN ok".
#   Run in a container, it proves that every library of its closure arrived intact.
#
# The shape, from a linear congruential generator (glibc's constants) seeded per package:
#   - library sizes: 2^e * (1 + m/1024) bytes with e = 12 + floor(10 * u^3), u uniform in
#     [0, 1): from 4 KiB to just under 4 MiB, most of them small (median ~12 KiB, ~11% ≥ 512 KiB);
#   - library i depends on one library chosen uniformly among 0..i-1 (so chains are deep) and on
#     0–2 more chosen with the power-law pick floor(i * u^3), which favours the first libraries;
#   - application j depends on one library chosen uniformly and on 1–3 more chosen with the
#     power-law pick over all libraries: synth-lib-001 ends up in nearly every closure, the
#     last libraries in few. Application data files are 1–32 KiB.
{ count, system, busybox, buildBusybox ? busybox }:

let
  inherit (builtins) concatStringsSep elem foldl' genList listToAttrs stringLength;

  mod = a: b: a - b * (a / b);
  pow2 = e: if e == 0 then 1 else 2 * pow2 (e - 1);

  # The LCG keeps its state below 2^31, so a * state fits easily in Nix's 64-bit integers.
  lcg = s: mod (1103515245 * s + 12345) 2147483648;
  U = 32768;
  # n numbers in 0..U-1 (the generator's high bits) from a seed.
  randoms = seed: n:
    if n == 0 then [ ] else let s = lcg seed; in [ (s / 65536) ] ++ randoms s (n - 1);
  seedOf = kind: i: lcg (lcg (i * 7919 + kind));

  uniform = r: n: r * n / U;                    # 0..n-1
  skewed = r: n: r * r / U * r / U * n / U;     # 0..n-1, density ~ x^(-2/3): power law

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  nLibs = (count + 1) / 2;
  nApps = count / 2;
  width = let w = stringLength (toString count); in if w < 3 then 3 else w;
  pad = s: if stringLength s >= width then s else pad "0${s}";
  libName = i: "synth-lib-${pad (toString (i + 1))}";
  appName = j: "synth-app-${pad (toString (j + 1))}";

  libShape = i:
    let
      r = randoms (seedOf 1 i) 6;
      at = builtins.elemAt r;
      e = 12 + (at 0) * (at 0) / U * (at 0) / U * 10 / U;
      extra = (at 3) * 3 / U;
    in {
      size = pow2 e * (1024 + (at 1) / 32) / 1024;
      deps = if i == 0 then [ ] else unique (
        [ (uniform (at 2) i) ]
        ++ (if extra >= 1 then [ (skewed (at 4) i) ] else [ ])
        ++ (if extra >= 2 then [ (skewed (at 5) i) ] else [ ]));
      seed = at 1 * U + at 2;
    };

  appShape = j:
    let
      r = randoms (seedOf 2 j) 8;
      at = builtins.elemAt r;
      extra = 1 + (at 1) * 3 / U;
    in {
      size = pow2 (10 + (at 2) * 6 / U);
      deps = unique (
        [ (uniform (at 0) nLibs) ]
        ++ genList (k: skewed (at (3 + k)) nLibs) extra);
      seed = at 6 * U + at 7;
    };

  libShapes = genList libShape nLibs;
  appShapes = genList appShape nApps;

  bin = "${busybox}/bin";
  buildBin = "${buildBusybox}/bin";

  # Shell code writing `size` bytes of data to `file`, the same bytes for the same seed.
  dataFile = file: size: seed: ''
    mkdir -p "$(dirname "${file}")"
    seq ${toString seed} ${toString (7919 + mod seed 1000)} ${toString (seed + (7919 + mod seed 1000) * size)} \
      | gzip -1 | head -c ${toString size} > "${file}"
    [ "$(wc -c < "${file}")" -eq ${toString size} ] || { echo "short data file ${file}" >&2; exit 1; }
  '';

  # The lines that source the check.sh of each library in `deps` (indices).
  sourceDeps = deps: concatStringsSep "\n" (map (d: ". ${libs.${libName d}}/nix-support/check.sh") deps);

  mkSynth = name: build: derivation {
    inherit name system;
    builder = "${buildBin}/busybox";
    args = [ "sh" "-euc" build ];
    PATH = buildBin;
  } // { meta.description = "a synthetic package for tests and benchmarks"; };

  libs = listToAttrs (genList (i:
    let
      name = libName i;
      shape = builtins.elemAt libShapes i;
      so = "lib/lib${name}.so";
    in {
      inherit name;
      value = mkSynth name ''
        ${dataFile "$out/${so}" shape.size shape.seed}
        mkdir -p $out/nix-support
        cat > $out/nix-support/check.sh <<EOF
        case " \$synth_seen " in
        *" ${name} "*) ;;
        *)
        synth_seen="\$synth_seen ${name}"
        [ -f $out/${so} ] && [ "\$(${bin}/wc -c < $out/${so})" = ${toString shape.size} ] \\
          || { echo "${name}: $out/${so} is missing or damaged" >&2; exit 1; }
        ${sourceDeps shape.deps}
        ;;
        esac
        EOF
      '';
    }) nLibs);

  apps = listToAttrs (genList (j:
    let
      name = appName j;
      shape = builtins.elemAt appShapes j;
      data = "share/${name}/data";
    in {
      inherit name;
      value = mkSynth name ''
        ${dataFile "$out/${data}" shape.size shape.seed}
        mkdir -p $out/bin
        cat > $out/bin/${name} <<EOF
        #!${bin}/sh
        set -e
        synth_seen=
        [ -f $out/${data} ] && [ "\$(${bin}/wc -c < $out/${data})" = ${toString shape.size} ] \\
          || { echo "${name}: $out/${data} is missing or damaged" >&2; exit 1; }
        ${sourceDeps shape.deps}
        echo "${name} ok"
        EOF
        chmod 0555 $out/bin/${name}
      '';
    }) nApps);

  infoOf = nameOf: shape: {
    name = nameOf;
    value = { inherit (shape) size; deps = map libName shape.deps; };
  };

in
{
  packages = libs // apps;
  libs = genList libName nLibs;
  apps = genList appName nApps;
  info = listToAttrs (genList (i: infoOf (libName i) (builtins.elemAt libShapes i)) nLibs
    ++ genList (j: infoOf (appName j) (builtins.elemAt appShapes j)) nApps);
}
