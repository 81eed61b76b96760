"""A recording stand-in for the `wandb` package, for tests of avatar-train's W&B sidecar where the real SDK does not
install. It offers only the public calls the sidecar may use (init, Run.config/log/log_artifact/finish, Image,
Artifact.add_reference) and appends each call as a JSON line to the file named by WANDB_STAND_IN_RECORD."""
import json
import os

__version__ = "stand-in"


def _record(call, **fields):
    fields["call"] = call
    with open(os.environ["WANDB_STAND_IN_RECORD"], "a") as f:
        f.write(json.dumps(fields) + "\n")


class Image:
    def __init__(self, data_or_path, caption=None):
        with open(data_or_path, "rb") as f:
            data = f.read()
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError("not a PNG: %s" % data_or_path)
        self.size = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
        self.caption = caption


class Artifact:
    def __init__(self, name, type):
        self.name, self.type, self.references = name, type, []

    def add_reference(self, uri, name=None, checksum=True, max_objects=None):
        self.references.append(uri)


class _Config(dict):
    def update(self, d=None, allow_val_change=False):
        dict.update(self, d or {})


class Run:
    def __init__(self, **kwargs):
        self.config = _Config(kwargs.get("config") or {})

    def log(self, data, step=None, commit=None):
        shown = {}
        for k, v in data.items():
            shown[k] = {"image": list(v.size), "caption": v.caption} if isinstance(v, Image) else v
        _record("log", step=step, data=shown)

    def log_artifact(self, artifact):
        _record("log_artifact", name=artifact.name, type=artifact.type, references=artifact.references)

    def finish(self, exit_code=None):
        _record("finish", exit_code=exit_code)


def init(**kwargs):
    _record("init", **{k: v for k, v in kwargs.items()})
    return Run(**kwargs)
