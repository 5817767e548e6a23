"""The runtime image: its Debian packages, and the release binaries started in a folder of
exactly those packages."""

import re
import sys
from pathlib import Path

from common import Report, dockerfile_instructions


# The Debian 12 packages each runtime image is made of (distroless: its base layer, then the
# packages its variant adds). A runtime image not listed here fails the check until it is.
RUNTIME_IMAGE_PACKAGES = {
    "gcr.io/distroless/cc-debian12": [
        "libc6", "libssl3", "ca-certificates", "tzdata", "netbase",
        "libgcc-s1", "libstdc++6", "gcc-12-base", "libgomp1",
    ],
}
# Where the dynamic loader of a Debian 12 amd64 system looks for libraries.
LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")


def runtime_image(dockerfile):
    """The image of the Dockerfile's last stage, without its tag or digest."""
    froms = [ins.value[0] for ins in dockerfile_instructions(dockerfile) if ins.cmd == "FROM"]
    return froms[-1].split("@")[0].rsplit(":", 1)[0] if froms else ""


def cmd_runtime_packages(dockerfile):
    image = runtime_image(dockerfile)
    if image not in RUNTIME_IMAGE_PACKAGES:
        print(f"the runtime image {image} is not one whose packages deploy/check/runtime.py knows; list them in RUNTIME_IMAGE_PACKAGES")
        sys.exit(1)
    print(" ".join(RUNTIME_IMAGE_PACKAGES[image]))


def needed_libraries(binary):
    import subprocess

    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_in_root(root, binary, service, report):
    """Starts the binary inside `root` as the image starts it (production settings, uid 65532),
    listening on 127.0.0.1 and talking to the servers of this environment; it must answer its
    liveness endpoint, then stop in order on SIGTERM."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    port = free_port()
    env = {
        "APP_ENVIRONMENT": "production",
        "APP_HTTP__HOST": "127.0.0.1",
        "APP_HTTP__PORT": str(port),
        "APP_DATABASE__URI": os.environ["APP_DATABASE__URI"],
        "APP_KAFKA__BOOTSTRAP_SERVERS": os.environ["APP_KAFKA__BOOTSTRAP_SERVERS"],
        "APP_DATABASE__NAME": f"runtime-image-check-{service}",
    }
    import shutil

    inside = "/usr/local/bin/service"
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0:
        command = [chroot, "--userspec=65532:65532", str(root), inside]
    else:
        command = [shutil.which("unshare") or "unshare", "--map-root-user", chroot, str(root), inside]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/{service}/actuator/health/liveness"
    answered = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                answered = response.status
                break
        except OSError:
            time.sleep(0.2)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, errors = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
    report.check(
        answered == 200 and process.returncode == 0,
        f"{service} runs in the runtime image's packages: liveness answered {answered}, exit {process.returncode} on SIGTERM",
        " | ".join(errors.strip().splitlines()[-3:]),
    )


def cmd_runtime_image(dockerfile, debs, root, *binaries):
    """The release binaries in a folder holding exactly the Debian packages of the runtime
    image: every library they need is there (readelf), and with servers to talk to
    (APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS set) each starts and answers."""
    import os
    import shutil
    import subprocess

    report = Report()
    image = runtime_image(dockerfile)
    packages = RUNTIME_IMAGE_PACKAGES.get(image)
    if not report.check(packages is not None, f"the runtime image {image} has a known package list"):
        report.exit()
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for package in packages:
        found = sorted(Path(debs).glob(f"{package}_*.deb"))
        if report.check(len(found) == 1, f"{package} fetched", f"{len(found)} files for it in {debs}"):
            subprocess.run(["dpkg", "-x", str(found[0]), str(root)], check=True)
    present = {path.name for directory in LIBRARY_DIRS if (root / directory).is_dir() for path in (root / directory).iterdir()}
    servers = all(os.environ.get(name) for name in ("APP_DATABASE__URI", "APP_KAFKA__BOOTSTRAP_SERVERS"))
    for binary in binaries:
        service = Path(binary).name
        needed = needed_libraries(binary)
        missing = [library for library in needed if library not in present]
        report.check(not missing, f"{service} needs {', '.join(needed)}; {image} has them all", "missing: " + ", ".join(missing))
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, root / "usr/local/bin/service")
        if servers:
            start_in_root(root, binary, service, report)
    if not servers:
        print("skip starting the binaries: set APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS to servers they can use")
    report.exit()
