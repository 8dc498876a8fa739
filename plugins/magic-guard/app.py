"""magic-guard: a Coffer upload scanner written in Python (componentize-py).

Refuses executables by what their first bytes are, whatever the file is called: a renamed
`setup.exe` is still a Windows executable. It reads eight bytes through the host, however large
the upload is.

Configuration (`plugin.json` has its schema): `{"block": ["windows-executable", "elf"]}`; without
one, every kind below is refused.
"""

import json

from wit_world import exports
from wit_world.exports import upload_scanner
from wit_world.imports import host

# What each kind starts with, and the name the uploader is shown.
KINDS = {
    "windows-executable": (b"MZ", "Windows executable"),
    "elf": (b"\x7fELF", "ELF executable"),
    "mach-o": (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    "script": (b"#!", "script with an interpreter line"),
}


def blocked_kinds():
    """The kinds the administrator blocks (all of them unless configured)."""
    config = json.loads(host.config() or "{}")
    return config.get("block", list(KINDS))


class UploadScanner(exports.UploadScanner):
    def scan(self, upload, content):
        head = content.read(0, 8)
        for kind in blocked_kinds():
            magic, label = KINDS[kind]
            if head.startswith(magic):
                host.log(
                    host.Level.WARN,
                    "refused an executable",
                    [("path", upload.path), ("kind", kind), ("uploader", upload.actor.email)],
                )
                return upload_scanner.Verdict_Infected(label)
        host.log(host.Level.DEBUG, "clean", [("path", upload.path)])
        return upload_scanner.Verdict_Clean()
