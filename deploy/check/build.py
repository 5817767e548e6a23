"""One build path: the Dockerfile builds with the command of scripts/run-local.sh (and the load
generator with that of scripts/bench.sh), and its build context holds a loadable workspace."""

import re
import shlex
from pathlib import Path

from common import CONTAINER_PORT, Report, dockerfile_instructions


def shell_commands(text):
    """Commands in shell text: continuation lines joined, split at ;, &&, || and |."""
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\|", line):
            part = part.strip()
            if part:
                yield part


def cargo_builds(commands):
    found = []
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        if len(words) >= 2 and Path(words[0]).name == "cargo" and words[1] in ("build", "b", "rustc", "install", "chef"):
            found.append(" ".join(words))
    return found


def cmd_build_command(dockerfile, run_local, bench_sh, *also):
    report = Report()
    bench = [b for b in cargo_builds(shell_commands(Path(bench_sh).read_text())) if "storefront-bench" in b.split()]
    local = cargo_builds(shell_commands(Path(run_local).read_text()))
    if not report.check(len(local) == 1, f"{run_local} has one build command", str(local)):
        report.exit()
    expected = local[0]
    report.ok(f"{run_local} builds with: {expected}")
    for script in also:
        builds = cargo_builds(shell_commands(Path(script).read_text()))
        report.check(expected in builds, f"{script} runs the same build, so CI builds what the images hold", str(builds))
    instructions = dockerfile_instructions(dockerfile)
    runs = []
    for instruction in instructions:
        if instruction.cmd == "RUN":
            runs += [" ".join(instruction.value)] if instruction.json else list(shell_commands(instruction.value[0]))
    docker = cargo_builds(runs)
    report.check(len(docker) > 0, f"{dockerfile} runs a cargo build")
    for command in docker:
        if "storefront-bench" in command.split():
            report.check(command in bench, f"{dockerfile} builds the load generator with: {command}", f"differs from {bench_sh}: {bench}")
        else:
            report.check(command == expected, f"{dockerfile} builds with: {command}", f"differs from {run_local}: {expected}")
    stages = {ins.value[2].lower(): i for i, ins in enumerate(instructions) if ins.cmd == "FROM" and len(ins.value) == 3}
    if report.check("loadgen" in stages, f"{dockerfile} has a loadgen stage (the load generator's image)"):
        following = [i for i, ins in enumerate(instructions) if ins.cmd == "FROM" and i > stages["loadgen"]]
        loadgen = instructions[stages["loadgen"]:(following[0] if following else None)]
        users = [ins.value[0] for ins in loadgen if ins.cmd == "USER"]
        report.check(
            bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
            f"{dockerfile}: the loadgen image runs as a numeric non-root user", str(users),
        )

    # The runtime stage: the last FROM and what follows it.
    last_from = max(i for i, ins in enumerate(instructions) if ins.cmd == "FROM")
    runtime = instructions[last_from:]
    users = [ins.value[0] for ins in runtime if ins.cmd == "USER"]
    report.check(
        bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
        f"{dockerfile}: the runtime image runs as a numeric non-root user", str(users),
    )
    exposed = [port for ins in runtime if ins.cmd == "EXPOSE" for port in ins.value]
    report.check(str(CONTAINER_PORT) in exposed, f"{dockerfile}: the runtime image exposes {CONTAINER_PORT}", str(exposed))
    report.exit()


def dockerignore_includes(patterns):
    """Whether a path is in the build context, by .dockerignore's rules: the last pattern that
    matches a path (or a folder above it) decides, `!` lets it back in."""
    import fnmatch

    rules = []
    for line in patterns:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        rules.append((include, pattern))

    def matches(path, pattern):
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            tail = pattern[3:]
            return any(fnmatch.fnmatch(part, tail) for part in parts)
        return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)

    def included(path):
        verdict = True
        for include, pattern in rules:
            if matches(path, pattern):
                verdict = include
        return verdict

    return included


def cmd_build_context(dockerfile, dockerignore, work):
    """The build stage's dependency layer as Docker would assemble it: the files .dockerignore
    lets into the context and the Dockerfile copies before its first `cargo build`, each crate
    given the empty target the Dockerfile gives it; cargo must load that workspace."""
    import shutil
    import subprocess

    report = Report()
    included = dockerignore_includes(Path(dockerignore).read_text().splitlines())
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    context = [path for path in tracked if included(path)]
    work = Path(work)
    copied = []
    instructions = dockerfile_instructions(dockerfile)
    # A COPY of a folder must find all of it: .dockerignore keeping out part of a crate's
    # sources fails the build only at compile time.
    under = lambda source: [p for p in tracked if p == source.rstrip("/") or p.startswith(source.rstrip("/") + "/")]
    absent = sorted({
        path
        for instruction in instructions
        if instruction.cmd == "COPY" and not any(flag.startswith("--from") for flag in instruction.flags)
        for source in instruction.value[:-1]
        for path in (under(source) or [source])
        if not included(path)
    })
    report.check(not absent, f"every file each COPY of {dockerfile} names is in the build context", ", ".join(absent[:8]) + (" ..." if len(absent) > 8 else ""))
    for instruction in instructions:
        if instruction.cmd == "RUN" and "cargo build" in " ".join(instruction.value):
            break
        if instruction.cmd != "COPY" or any(flag.startswith("--from") for flag in instruction.flags):
            continue
        *sources, destination = instruction.value
        for source in sources:
            source = source.rstrip("/")
            for path in context:
                if path == source or path.startswith(source + "/"):
                    relative = Path(path).relative_to(Path(source).parent) if path != source else Path(Path(path).name)
                    target = work / destination / relative if destination.endswith("/") else work / destination
                    if destination in ("./", "."):
                        target = work / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    copied.append(path)
    report.ok(f"the dependency layer copies {len(copied)} files: {', '.join(sorted(copied))}")
    # cargo metadata loads a manifest whose build script is missing; cargo build does not.
    import tomllib
    scripts, missing = 0, []
    for manifest in work.rglob("Cargo.toml"):
        build = tomllib.loads(manifest.read_text()).get("package", {}).get("build")
        if isinstance(build, str):
            scripts += 1
            script = (manifest.parent / build).resolve()
            if not script.exists():
                missing.append(f"{manifest.relative_to(work)} -> {script.relative_to(work.resolve())}")
        source = manifest.parent / "src"
        if manifest.parent != work and not source.exists():
            source.mkdir(parents=True)
            (source / "lib.rs").write_text("")
    report.check(not missing, f"every build script a manifest names is copied with it ({scripts})", ", ".join(sorted(missing)))
    result = subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1",
         "--manifest-path", str(work / "Cargo.toml")],
        capture_output=True, text=True,
    )
    report.check(
        result.returncode == 0,
        "cargo loads the workspace from what the build stage copies",
        result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "",
    )
    report.exit()
