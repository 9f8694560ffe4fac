#!/usr/bin/env python3
"""Writes the small valid seed inputs of the fuzz targets into fuzz/seeds/<target>/ (standard library only)."""
import io, json, os, pickle, struct, sys, types, zipfile, zlib, collections

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# safetensors: two tensors and metadata.
header = {"__metadata__": {"format": "pt"},
          "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
          "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]}}
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
put("safetensors", "two_tensors.safetensors", struct.pack("<Q", len(h)) + h + struct.pack("<4f", 1, 2, 3, 4) + struct.pack("<3e", 1, 2, 3))

# .ckpt: a zip with archive/data.pkl (torch._utils._rebuild_tensor_v2 over a persistent FloatStorage) and the bytes.
torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
class FloatStorage: pass
FloatStorage.__module__ = "torch"; torch.FloatStorage = FloatStorage
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class Storage:
    def __init__(self, key, n): self.key, self.n = key, n
class Tensor:
    def __init__(self, st, shape): self.st, self.shape = st, shape
    def __reduce__(self):
        stride = tuple(int(__import__("math").prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return (_rebuild_tensor_v2, (self.st, 0, tuple(self.shape), stride, False, collections.OrderedDict()))
class P(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.n)
        return None
sd = collections.OrderedDict()
sd["model.w"] = Tensor(Storage("0", 6), [2, 3])
sd["model.b"] = Tensor(Storage("1", 3), [3])
buf = io.BytesIO(); P(buf, protocol=2).dump({"state_dict": sd, "global_step": 7})
z = io.BytesIO()
with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
    zf.writestr("archive/data.pkl", buf.getvalue())
    zf.writestr("archive/data/0", struct.pack("<6f", *range(6)))
    zf.writestr("archive/data/1", struct.pack("<3f", 1, 2, 3))
    zf.writestr("archive/version", "3\n")
put("ckpt", "small.ckpt", z.getvalue())
put("pickle", "state_dict.pkl", buf.getvalue())
put("pickle", "plain.pkl", pickle.dumps({"a": [1, 2.5, "x", (True, None)], "b": b"\x00\x01"}, protocol=4))

# Infotext (A1111) as text and inside a PNG tEXt chunk.
info = ("a red house, (detailed:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, "
        "CFG scale: 7, Seed: 1, Size: 512x512, Model hash: abcdef1234, Model: sd15, Denoising strength: 0.5")
put("infotext", "parameters.txt", info)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\x00" + bytes([200, 30, 30] * 2) for _ in range(2))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
       + chunk(b"tEXt", b"parameters\x00" + info.encode()) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
put("infotext", "with_parameters.png", png)

put("prompt", "emphasis.txt", "a (red:1.3) house [blurry] ((very)) \\(literal\\) BREAK at night")
put("prompt", "world.txt", "a large red circle at the top left and a small blue square at the bottom")
put("boxes", "boxes.json", json.dumps([{"x": 4, "y": 5, "w": 30, "h": 20, "prompt": "a red circle"}, {"x": 30, "y": 30, "w": 20, "h": 20, "label": "blue square"}]))
put("boxes", "wrapped.json", json.dumps({"boxes": [{"x": 0, "y": 0, "w": 64, "h": 64, "label": "red circle"}]}))
put("config", "ldm.json", json.dumps({"model": {"target": "ldm.models.diffusion.ddpm.LatentDiffusion", "params": {
    "linear_start": 0.00085, "linear_end": 0.012, "timesteps": 1000, "scale_factor": 0.18215, "conditioning_key": "crossattn",
    "unet_config": {"target": "ldm.modules.diffusionmodules.openaimodel.UNetModel", "params": {"in_channels": 4, "out_channels": 4,
        "model_channels": 32, "attention_resolutions": [1], "num_res_blocks": 1, "channel_mult": [1, 2], "num_heads": 2,
        "use_spatial_transformer": True, "transformer_depth": 1, "context_dim": 32}},
    "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {
        "double_z": True, "z_channels": 4, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32, "ch_mult": [1, 2],
        "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}}},
    "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenCLIPEmbedder"}}}}))
put("config", "diffusers_unet.json", json.dumps({"_class_name": "UNet2DConditionModel", "block_out_channels": [32, 64],
    "layers_per_block": 1, "cross_attention_dim": 32, "attention_head_dim": 8, "in_channels": 4, "out_channels": 4}))
put("project", "project.json", json.dumps({"format": "latent-studio-project", "version": 1,
    "boxes": [{"x": 1, "y": 2, "w": 10, "h": 20, "prompt": "red circle"}], "panel": {"mode": "Auto"},
    "history": [{"file": "history/a.png", "parameters": "p", "settings": "{}"}], "mask": False}))

# api: AUTOMATIC1111 request bodies (latent-cli serve) with a small base64 PNG inside.
def small_png(w, h):
    def chunk(k, b):
        return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 16 % 256, y * 16 % 256, 99)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
import base64
img = base64.b64encode(small_png(8, 8)).decode()
put("api", "txt2img.json", json.dumps({"prompt": "a cat <lora:x:0.5>", "negative_prompt": "dog", "seed": -1,
    "sampler_name": "DPM++ 2M Karras", "steps": 20, "width": 64, "height": 64, "batch_size": 2, "n_iter": 2,
    "enable_hr": True, "hr_scale": 2, "denoising_strength": 0.5,
    "override_settings": {"sd_model_checkpoint": "m", "CLIP_stop_at_last_layers": 2},
    "alwayson_scripts": {"latent studio layout": {"args": [{"boxes": [{"x": 0, "y": 0, "w": 10, "h": 10, "prompt": "a"}]}]}}}))
put("api", "img2img.json", json.dumps({"prompt": "p", "init_images": ["data:image/png;base64," + img], "mask": img,
    "mask_blur": 2, "inpainting_fill": 2, "inpaint_full_res": False, "resize_mode": 1, "width": 16, "height": 8,
    "alwayson_scripts": {"controlnet": {"args": [{"module": "canny", "model": "c", "weight": 0.5, "image": img,
                                                   "guidance_start": 0.1, "guidance_end": 0.9}]}}}))
put("api", "extras.json", json.dumps({"image": img, "upscaler_1": "Lanczos", "resize_mode": 1,
    "upscaling_resize_w": 16, "upscaling_resize_h": 16}))
print("seeds written to", root)
