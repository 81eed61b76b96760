#!/usr/bin/python3
"""Loads the three `export --layout` outputs with the REAL diffusers 0.27.2 code, as inference code does.

    /usr/bin/python3 src/test/scripts/check_unet_layouts.py DIR

DIR (written by dev.avatartrain.cli.ExportLayoutsTest) holds
  io.safetensors      inputs "sample", "timestep", "encoder_hidden_states" and the Java UNet's output "out"
  file.safetensors    --layout file:      UNet2DConditionModel(**config).load_state_dict(weights, strict=True)
  diffusers/          --layout diffusers: UNet2DConditionModel.from_pretrained(dir)
  musetalk/           --layout musetalk:  MuseTalk's musetalk/models/unet.py UNet: UNet2DConditionModel(**json.load(musetalk.json)),
                                          load_state_dict(torch.load(pytorch_model.bin))  (strict, the default)
Each must reproduce "out" (max abs difference <= 1e-4) and the three state dicts must be equal.
Exit 0 when all hold; 1 with a message otherwise.
Safetensors are read by hand (make_unet_fixtures.read_safetensors): the python safetensors package is not installed,
so diffusers' safetensors loader (stubbed by diffusers_ref) is pointed at that reader for from_pretrained.
"""
import json, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_unet_fixtures import read_safetensors, UNet2DConditionModel  # noqa: E402


def main(d):
    io = read_safetensors(os.path.join(d, "io.safetensors"))
    models = {}

    cfg = json.load(open(os.path.join(d, "diffusers", "config.json")))
    m = UNet2DConditionModel(**{k: v for k, v in cfg.items() if not k.startswith("_")})
    m.load_state_dict(read_safetensors(os.path.join(d, "file.safetensors")), strict=True)
    models["file"] = m

    import safetensors.torch as st  # the stub of diffusers_ref: give it a real reader
    st.load_file = lambda path, device="cpu": read_safetensors(path)
    import diffusers.models.modeling_utils as mu
    mu.safetensors.torch.load_file = st.load_file
    models["diffusers"] = UNet2DConditionModel.from_pretrained(os.path.join(d, "diffusers"))

    with open(os.path.join(d, "musetalk", "musetalk.json")) as f:
        unet_config = json.load(f)
    m = UNet2DConditionModel(**unet_config)
    m.load_state_dict(torch.load(os.path.join(d, "musetalk", "pytorch_model.bin"), map_location="cpu"))
    models["musetalk"] = m

    bad = 0
    ref = models["file"].state_dict()
    for name, m in models.items():
        sd = m.state_dict()
        if sd.keys() != ref.keys() or any(not torch.equal(sd[k], ref[k]) for k in ref):
            print(name, ": state dict differs from file.safetensors")
            bad += 1
        with torch.no_grad():
            out = m.float().eval()(io["sample"], io["timestep"], encoder_hidden_states=io["encoder_hidden_states"]).sample
        diff = (out - io["out"]).abs().max().item()
        print(f"{name}: loaded by diffusers, {len(sd)} tensors, max |out - java| = {diff:.2e}")
        if not diff <= 1e-4:
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv[1])
