"""`manage.py build_test_images`: the small local images tests run tools in, built from this
machine's binaries (scripts/build-test-images runs it).

No image registry is reachable from CI or from developers' machines, so instead of pulling the
upstream images each tool module names, tests use images made with `docker import` from a
directory tree. What goes into a tool's image is declared by its module (`NODE.test_image`, see
scans.tools.kit.tool.TestImage): host binaries with the libraries `ldd` lists (and libraries a
binary dlopen()s, with theirs), data files, or a
stand-in script with a real report baked in. Every image starts from busybox-static (a shell and
coreutils, and a passwd with "nobody"), which is also built alone as `outpost-test/busybox:1`
(the sandbox tests and the cache volumes' preparation use it).

Idempotent: an image is rebuilt only when its recipe (a hash of this command, the declaration
and every input file) changed; `--rebuild` forces it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scans.tools import tools
from scans.tools.kit.tool import TestImage

BUSYBOX_IMAGE = TestImage(name="outpost-test/busybox:1", entrypoint=())
_LIBRARY = re.compile(r"(/[^ ]+\.so[^ ]*)")


def _sha(paths: list[Path]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in paths:
        digest.update(str(path).encode())
        if path.is_file():
            digest.update(path.read_bytes())
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file():
                    digest.update(str(child).encode())
                    digest.update(str(child.stat().st_size).encode())
    return digest.hexdigest()[:12]


class Command(BaseCommand):
    help = "Build the tools' local test images from this machine's binaries (no registry needed)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rebuild", action="store_true", help="rebuild even when current")
        parser.add_argument(
            "--outputs",
            default=os.environ.get("OUTPOST_SCANNER_OUTPUTS")
            or str(Path(settings.BASE_DIR).parent / "shared" / "data" / "scanner-outputs"),
            help="the scanner-outputs folder stand-ins take their reports from",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        busybox = shutil.which("busybox")
        if not busybox:
            raise CommandError("busybox is missing: apt-get install busybox-static")
        if subprocess.run(["ldd", busybox], capture_output=True, check=False).returncode == 0:
            raise CommandError(f"{busybox} is not static: apt-get install busybox-static")
        if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode:
            raise CommandError("no Docker engine answers")
        self.busybox = Path(busybox)
        self.outputs = Path(options["outputs"])
        self.rebuild = bool(options["rebuild"])
        declared = [BUSYBOX_IMAGE] + [t.test_image for t in tools() if t.test_image is not None]
        for image in declared:
            self._build(image)

    # --- one image ---------------------------------------------------------------------------

    def _inputs(self, image: TestImage) -> tuple[list[Path], dict[str, Path]]:
        binaries = []
        for name in image.binaries:
            found = shutil.which(name)
            if not found:
                raise CommandError(f"{name} is missing on this machine (needed by {image.name})")
            binaries.append(Path(found).resolve())
        for library in image.libraries:
            if not Path(library).is_file():
                raise CommandError(f"{library} is missing on this machine (needed by {image.name})")
        baked: dict[str, Path] = {}
        for inside, relative in image.stand_in_files.items():
            source = self.outputs / relative
            if not source.is_file():
                raise CommandError(f"missing {source} (set OUTPOST_SCANNER_OUTPUTS)")
            baked[inside] = source
        return binaries, baked

    def _build(self, image: TestImage) -> None:
        binaries, baked = self._inputs(image)
        files = [Path(f) for f in image.files if Path(f).exists()]
        stand_in = Path(settings.BASE_DIR) / image.stand_in if image.stand_in else None
        libraries = [Path(library) for library in image.libraries]
        inputs = [self.busybox, *binaries, *libraries, *files, *baked.values()]
        recipe = _sha([*inputs, *([stand_in] if stand_in else []), Path(repr(image))])
        if not self.rebuild and self._label(image.name) == recipe:
            self.stdout.write(f"up to date: {image.name}")
            return
        with tempfile.TemporaryDirectory() as work:
            root = Path(work) / "root"
            self._base(root)
            for binary in binaries:
                self._binary(root, binary)
            for library in libraries:
                self._library(root, library)
            for path in files:
                target = root / path.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir():
                    shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
                else:
                    shutil.copy2(path, target)
            if stand_in is not None:
                target = root / image.entrypoint[0].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(stand_in, target)
                target.chmod(0o755)
            for inside, source in baked.items():
                target = root / inside.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
            self._import(root, image, recipe)
        self.stdout.write(f"built {image.name}")

    def _label(self, name: str) -> str:
        done = subprocess.run(
            [
                "docker",
                "image",
                "inspect",
                "-f",
                '{{ index .Config.Labels "outpost.recipe" }}',
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    def _base(self, root: Path) -> None:
        """busybox with its applets, a passwd with "nobody", an empty /tmp."""
        for folder in ("bin", "etc", "tmp", "usr/bin", "usr/local/bin"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        shutil.copy(self.busybox, root / "bin" / "busybox")
        applets = subprocess.run(
            [str(self.busybox), "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for applet in applets:
            link = root / "bin" / applet
            if not link.exists():
                link.symlink_to("busybox")
        (root / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n"
        )
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")

    def _binary(self, root: Path, binary: Path) -> None:
        """The binary at its own path and at /usr/bin/<name>, with every library ldd names."""
        target = root / binary.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, target)
        alias = root / "usr" / "bin" / binary.name
        if not alias.exists():
            alias.symlink_to(binary)
        self._linked(root, binary)

    def _library(self, root: Path, library: Path) -> None:
        """A library the tool dlopen()s, at its own path, with every library ldd names."""
        copy = root / library.relative_to("/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            shutil.copy2(library.resolve(), copy)
        self._linked(root, library)

    def _linked(self, root: Path, binary: Path) -> None:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        for library in _LIBRARY.findall(listing.stdout):
            source = Path(library)
            copy = root / source.relative_to("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            if not copy.exists():
                shutil.copy2(source.resolve(), copy)

    def _import(self, root: Path, image: TestImage, recipe: str) -> None:
        old = _image_id(image.name)
        entrypoint = "[" + ", ".join(f'"{part}"' for part in image.entrypoint) + "]"
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", str(root), "-cf", "-", "."],
            stdout=subprocess.PIPE,
        )
        done = subprocess.run(
            [
                "docker", "import",
                "-c", f"ENTRYPOINT {entrypoint}",
                "-c", "ENV PATH=/usr/local/bin:/usr/bin:/bin",
                "-c", f"LABEL outpost.recipe={recipe} outpost.test-image=1",
                "-", image.name,
            ],
            stdin=tar.stdout,
            capture_output=True,
            check=False,
        )  # fmt: skip
        tar.wait()
        if done.returncode or tar.returncode:
            raise CommandError(f"docker import of {image.name} failed: {done.stderr.decode()}")
        if old and old != _image_id(image.name):
            subprocess.run(["docker", "image", "rm", old], capture_output=True, check=False)


def _image_id(name: str) -> str:
    """The local image's id ("" when there is none)."""
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{ .Id }}", name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
