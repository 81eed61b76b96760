"""Streams one avatar-train run to Weights & Biases, live.

The driver (dev.avatartrain.wandb.WandbSidecar) starts this script with the Python that has `wandb`, and writes one
JSON object per line to its stdin:

  {"type": "init", "id": ..., "name": ..., "config": {...}, "dir": ...}     first line
  {"type": "log", "step": N, "data": {"train/loss": 0.1, ...}}              every metrics row
  {"type": "image", "step": N, "key": "validation/grid", "path": "/tmp/x.png", "caption": ...}
  {"type": "artifact", "name": ..., "kind": "model", "uri": "s3://.../checkpoint-100"}
  {"type": "finish", "exit_code": 0}                                        last line

It uses the SDK's documented public calls only: wandb.init, run.config, run.log, wandb.Image, wandb.Artifact
(add_reference, so a checkpoint is referenced, not uploaded), run.log_artifact, run.finish. It answers on stdout with
lines starting "avatar-train-sidecar: " ("ready", or "error: ..." and exit status 3 when `import wandb` fails). End of
input without "finish" (the driver died) finishes the run with exit code 1. Written against wandb 0.19 to 0.30.
"""
import json
import os
import sys

PREFIX = "avatar-train-sidecar: "


def say(text):
    sys.stdout.write(PREFIX + text + "\n")
    sys.stdout.flush()


def main():
    try:
        import wandb
    except Exception as e:  # any import failure: a missing package or a broken dependency
        say("error: cannot import wandb (%s: %s)" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        return 3
    run = None
    exit_code = 1
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "init":
            run = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "avatar-train"),
                id=msg["id"],
                name=msg.get("name"),
                resume="allow",
                config=msg.get("config", {}),
                dir=msg.get("dir"),
            )
            say("ready %s" % getattr(wandb, "__version__", "?"))
        elif kind == "log":
            run.log(msg["data"], step=msg["step"])
        elif kind == "image":
            run.log({msg["key"]: wandb.Image(msg["path"], caption=msg.get("caption"))}, step=msg["step"])
        elif kind == "artifact":
            artifact = wandb.Artifact(msg["name"], type=msg.get("kind", "model"))
            artifact.add_reference(msg["uri"], checksum=False)
            run.log_artifact(artifact)
        elif kind == "finish":
            exit_code = int(msg.get("exit_code", 0))
            break
    if run is not None:
        run.finish(exit_code=exit_code)
    say("finished %d" % exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
