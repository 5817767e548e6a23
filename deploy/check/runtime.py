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


def liveness(base):
    """Whether the service answers its liveness endpoint, and what it answered."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/actuator/health/liveness", timeout=2) as response:
            return response.status == 200, f"liveness answered {response.status}"
    except OSError as error:
        return False, f"liveness: {error}"


def kafka_up(base):
    """Whether the service's health reports its Kafka component UP, and what it reports."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/actuator/health", timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        # DOWN answers 503, with the components in the body.
        body = error.read()
    except OSError as error:
        return False, f"health: {error}"
    kafka = json.loads(body).get("components", {}).get("kafka", {})
    return kafka.get("status") == "UP", f"kafka {kafka.get('status')} {json.dumps(kafka.get('details'))}"


def kafka_down(base):
    """Whether the service's health reports its Kafka component DOWN."""
    up, seen = kafka_up(base)
    return not up and seen.startswith("kafka DOWN"), seen


def start_in_root(root, service, report, settings, until, deadline_seconds, what, logged=None):
    """Starts the service installed in `root` as the image starts it (production settings, uid
    65532), listening on 127.0.0.1 with `settings` added; waits until `until(base_url)` holds,
    then stops it in order with SIGTERM. The check passes when it held, the exit was 0 and, if
    `logged` is given, its log holds that text."""
    import os
    import shutil
    import signal
    import subprocess
    import time

    port = free_port()
    env = {
        "APP_ENVIRONMENT": "production",
        "APP_HTTP__HOST": "127.0.0.1",
        "APP_HTTP__PORT": str(port),
        "APP_DATABASE__NAME": f"runtime-image-check-{service}",
        **settings,
    }
    inside = "/usr/local/bin/service"
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0:
        command = [chroot, "--userspec=65532:65532", str(root), inside]
    else:
        command = [shutil.which("unshare") or "unshare", "--map-root-user", chroot, str(root), inside]
    # Its log (JSON lines on stdout in production) says why, when it fails.
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/{service}"
    held, seen = False, "no answer"
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and process.poll() is None:
        held, seen = until(base)
        if held:
            break
        time.sleep(0.5)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    lines = output.strip().splitlines()
    errors = next(
        (found[-2:] for pattern in (r"(?i)certificate|handshake|ssl", r"(?i)error|fail") if (found := [line for line in lines if re.search(pattern, line)])),
        lines[-3:],
    )
    held = held and (logged is None or logged in output)
    report.check(
        held and process.returncode == 0,
        f"{service} {what}: {seen}, exit {process.returncode} on SIGTERM",
        " | ".join(line[:400] for line in errors),
    )


def unpack_runtime_image(report, dockerfile, debs, root):
    """A folder holding exactly the Debian packages of the Dockerfile's runtime image, and the
    names of the libraries in it; exits when the image's packages are not known."""
    import shutil
    import subprocess

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
    return image, root, present


def install(root, binary):
    import shutil

    (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, root / "usr/local/bin/service")


def cmd_runtime_image(dockerfile, debs, root, *binaries):
    """The release binaries in a folder holding exactly the Debian packages of the runtime
    image: every library they need is there (readelf), and with servers to talk to
    (APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS set) each starts and answers."""
    import os

    report = Report()
    image, root, present = unpack_runtime_image(report, dockerfile, debs, root)
    servers = all(os.environ.get(name) for name in ("APP_DATABASE__URI", "APP_KAFKA__BOOTSTRAP_SERVERS"))
    for binary in binaries:
        service = Path(binary).name
        needed = needed_libraries(binary)
        missing = [library for library in needed if library not in present]
        report.check(not missing, f"{service} needs {', '.join(needed)}; {image} has them all", "missing: " + ", ".join(missing))
        install(root, binary)
        if servers:
            settings = {name: os.environ[name] for name in ("APP_DATABASE__URI", "APP_KAFKA__BOOTSTRAP_SERVERS")}
            start_in_root(root, service, report, settings, liveness, 30, "runs in the runtime image's packages")
    if not servers:
        print("skip starting the binaries: set APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS to servers they can use")
    report.exit()


# Where Debian's ca-certificates keeps its bundle, which its install script (update-ca-certificates)
# writes: the distroless image holds it; unpacking the package does not make it.
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"


def install_ca_bundle(root, local_ca=None):
    """Writes the bundle as update-ca-certificates does: every certificate the package ships
    (/usr/share/ca-certificates, as its postinst lists them in /etc/ca-certificates.conf, sorted),
    then the local ones (/usr/local/share/ca-certificates/*.crt, sorted), each ending in a newline.
    `local_ca`, if given, is installed as a local certificate (else none is). Returns how many
    certificates the bundle holds."""
    local = root / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    for installed in local.glob("*.crt"):
        installed.unlink()
    if local_ca is not None:
        (local / "storefront-local-ca.crt").write_text(Path(local_ca).read_text())
    shipped = root / "usr/share/ca-certificates"
    files = sorted(shipped.rglob("*.crt"), key=lambda path: str(path.relative_to(shipped))) + sorted(local.glob("*.crt"))
    bundle = root / CA_BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open("w") as out:
        for file in files:
            text = file.read_text()
            out.write(text if text.endswith("\n") else text + "\n")
    return len(files)


def cmd_runtime_trust(dockerfile, debs, root, security_dir, *binaries):
    """The release binaries in a folder of the runtime image's packages, its CA bundle built as
    the image's ca-certificates install builds it, with the CA of a local secured broker added:
    with no APP_KAFKA__SSL_CA_LOCATION, each reaches that broker over SASL_SSL as its own user
    (APP_KAFKA__BOOTSTRAP_SERVERS, SECURITY_DIR/users and ca.pem from scripts/infra.sh's secured
    mode), as a service in that image reaches a managed Kafka whose CA is a public one."""
    import os

    report = Report()
    _, root, _ = unpack_runtime_image(report, dockerfile, debs, root)
    security_dir = Path(security_dir)
    passwords = dict(line.split() for line in (security_dir / "users").read_text().splitlines() if line.strip())

    def settings(service):
        return {
            "APP_DATABASE__URI": os.environ["APP_DATABASE__URI"],
            "APP_KAFKA__BOOTSTRAP_SERVERS": os.environ["APP_KAFKA__BOOTSTRAP_SERVERS"],
            "APP_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "APP_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "APP_KAFKA__SASL_USERNAME": service,
            "APP_KAFKA__SASL_PASSWORD": passwords[service],
        }

    # The control: with the image's own bundle, which lacks the local CA, the handshake fails, so
    # the runs below pass through that bundle and nothing else.
    count = install_ca_bundle(root)
    first = Path(binaries[0])
    install(root, first)
    start_in_root(root, first.name, report, settings(first.name), kafka_down, 60,
                  f"with the image's own bundle ({count} certificates, not the local CA) is refused by TLS verification",
                  logged="certificate verify failed")
    count = install_ca_bundle(root, security_dir / "ca.pem")
    report.ok(f"/{CA_BUNDLE}: {count} certificates, the local test CA last; /usr/lib/ssl (OpenSSL's default verify paths) "
              f"{'is there' if (root / 'usr/lib/ssl').exists() else 'is absent, as in the image'}")
    for binary in binaries:
        service = Path(binary).name
        install(root, binary)
        start_in_root(root, service, report, settings(service), kafka_up, 60,
                      "with no APP_KAFKA__SSL_CA_LOCATION trusts the broker through the image's CA bundle")
    report.exit()
