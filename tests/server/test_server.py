#!/usr/bin/env python3
"""`latent-cli serve` driven as AUTOMATIC1111's API clients drive it: a real server on a loopback port, plain HTTP
from Python's standard library (urllib, http.client, socket). Models: the bundled default (and its upscaler), and the
tiny SD1 checkpoint and ControlNet of ../shared/golden.

    test_server.py LATENT_CLI SHARED_DIR
"""
import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import zlib

CLI = SHARED = None


# ---------------------------------------------------------------- PNG (every filter type), no third-party modules
def png_decode(data):
    """Returns (width, height, channels, pixel bytes, text chunks)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, text = 8, b"", {}
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"tEXt":
            k, v = body.split(b"\0", 1)
            text[k.decode("latin-1")] = v.decode("latin-1")
        elif kind == b"iTXt":
            k, rest = body.split(b"\0", 1)
            comp = rest[0]
            rest = rest[2:]
            _lang, rest = rest.split(b"\0", 1)
            _tr, v = rest.split(b"\0", 1)
            text[k.decode()] = (zlib.decompress(v) if comp else v).decode()
        elif kind == b"zTXt":
            k, v = body.split(b"\0", 1)
            text[k.decode("latin-1")] = zlib.decompress(v[1:]).decode("latin-1")
    raw = zlib.decompress(idat)
    stride = w * ch
    out = bytearray()
    prev = bytearray(stride)
    i = 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, ch, bytes(out), text


def png_encode(w, h, ch, pixels):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + pixels[y * w * ch:(y + 1) * w * ch] for y in range(h))
    ctype = {1: 0, 3: 2, 4: 6}[ch]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def b64png(w, h, ch, pixels, data_url=False):
    s = base64.b64encode(png_encode(w, h, ch, pixels)).decode()
    return "data:image/png;base64," + s if data_url else s


def gradient(w, h):
    return bytes(v for y in range(h) for x in range(w) for v in (x * 255 // w, y * 255 // h, 128))


def half_mask(w, h):
    """White (repaint) on the left half."""
    return bytes(255 if x < w // 2 else 0 for y in range(h) for x in range(w))


# ---------------------------------------------------------------- a server process
class Server:
    def __init__(self, *args, env=None):
        e = dict(os.environ)
        e["LS_CLIP_VOCAB"] = os.path.join(SHARED, "data", "clip")
        e.update(env or {})
        self.proc = subprocess.Popen([CLI, "serve", "--port", "0", "--threads", "2", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError("server did not start: " + line + self.proc.stderr.read())
        self.port = int(line.rsplit(":", 1)[1])
        self.base = "http://127.0.0.1:%d" % self.port
        self.auth = None

    def request(self, method, path, body=None, raw=None, auth=None, timeout=600):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        a = auth or self.auth
        if a:
            req.add_header("Authorization", "Basic " + base64.b64encode(a.encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


SMALL = {"prompt": "a red circle at the top left", "steps": 6, "width": 64, "height": 64, "seed": 5,
         "sampler_name": "Euler a", "cfg_scale": 5}


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.models = tempfile.mkdtemp(prefix="ls-serve-models-")
        cls.controls = tempfile.mkdtemp(prefix="ls-serve-cn-")
        golden = os.path.join(SHARED, "golden")
        os.symlink(os.path.join(golden, "tiny_sd1", "weights.safetensors"), os.path.join(cls.models, "tiny-sd1.safetensors"))
        os.symlink(os.path.join(golden, "tiny_sd1", "case.json"), os.path.join(cls.models, "tiny-sd1.json"))
        os.symlink(os.path.join(golden, "tiny_controlnet", "weights.safetensors"),
                   os.path.join(cls.controls, "tiny-control.safetensors"))
        cls.s = Server("--models", cls.models, "--controlnet-dir", cls.controls, "--model", "latent-studio-default")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def txt2img(self, **over):
        body = dict(SMALL, **over)
        status, r = self.s.post("/sdapi/v1/txt2img", body)
        self.assertEqual(status, 200, r)
        return r

    # ------------------------------------------------------------ lists
    def test_lists(self):
        self.txt2img()  # the first model is loaded (and hashed): its title carries the hash
        status, models = self.s.get("/sdapi/v1/sd-models")
        self.assertEqual(status, 200)
        names = [m["model_name"] for m in models]
        self.assertIn("latent-studio-default", names)
        self.assertIn("tiny-sd1", names)
        for m in models:
            self.assertEqual(set(m), {"title", "model_name", "hash", "sha256", "filename", "config"})
        status, samplers = self.s.get("/sdapi/v1/samplers")
        ea = [s for s in samplers if s["name"] == "Euler a"]
        self.assertEqual(len(ea), 1)
        self.assertIn("k_euler_a", ea[0]["aliases"])
        status, schedulers = self.s.get("/sdapi/v1/schedulers")
        self.assertIn({"name": "karras", "label": "Karras"},
                      [{"name": s["name"], "label": s["label"]} for s in schedulers])
        status, ups = self.s.get("/sdapi/v1/upscalers")
        self.assertEqual([u["name"] for u in ups][:3], ["None", "Lanczos", "Nearest"])
        self.assertIn("LDM", [u["name"] for u in ups])
        status, opts = self.s.get("/sdapi/v1/options")
        self.assertTrue(opts["sd_model_checkpoint"].startswith("latent-studio-default.safetensors ["), opts)
        self.assertEqual(opts["CLIP_stop_at_last_layers"], 1.0)
        status, scripts = self.s.get("/sdapi/v1/scripts")
        self.assertIn("txt2img", scripts)
        self.assertEqual(self.s.get("/sdapi/v1/controlnet/nothing")[0], 404)
        status, cn = self.s.get("/controlnet/model_list")
        self.assertEqual(cn["model_list"], ["tiny-control"])
        self.assertEqual(self.s.get("/sdapi/v1/loras")[0], 200)
        self.assertEqual(self.s.get("/sdapi/v1/cmd-flags")[1]["api"], True)

    # ------------------------------------------------------------ txt2img
    def test_txt2img(self):
        r = self.txt2img(batch_size=2, n_iter=2)
        info = json.loads(r["info"])
        self.assertEqual(len(r["images"]), 4)
        self.assertEqual(info["all_seeds"], [5, 6, 7, 8])
        self.assertEqual(info["seed"], 5)
        self.assertEqual(info["sampler_name"], "Euler a")
        self.assertEqual(info["sd_model_name"], "model")
        self.assertEqual(r["parameters"]["prompt"], SMALL["prompt"])
        self.assertEqual(len(info["infotexts"]), 4)
        pics = []
        for img, text in zip(r["images"], info["infotexts"]):
            w, h, ch, px, meta = png_decode(base64.b64decode(img))
            self.assertEqual((w, h), (64, 64))
            self.assertEqual(meta["parameters"], text)  # the infotext in info is the PNG's
            pics.append(px)
        self.assertIn("Seed: 7,", info["infotexts"][2])
        self.assertNotEqual(pics[0], pics[1])
        # the same request gives the same pixels; batch position k equals a run seeded seed+k
        again = self.txt2img(seed=7)
        self.assertEqual(png_decode(base64.b64decode(again["images"][0]))[3], pics[2])
        self.assertEqual(self.txt2img(send_images=False)["images"], [])

    def test_same_pixels_as_cli(self):
        r = self.txt2img(seed=11, steps=5)
        server_px = png_decode(base64.b64decode(r["images"][0]))[3]
        out = os.path.join(tempfile.mkdtemp(), "cli.png")
        subprocess.run([CLI, "generate", "--prompt", SMALL["prompt"], "--steps", "5", "-W", "64", "-H", "64", "--seed", "11",
                        "--sampler", "Euler a", "--cfg", "5", "--threads", "2", "-o", out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out, "rb") as f:
            w, h, ch, cli_px, meta = png_decode(f.read())
        self.assertEqual(ch, 3)
        self.assertEqual(cli_px, server_px)
        self.assertEqual(meta["parameters"], json.loads(r["info"])["infotexts"][0])

    def test_layout_script(self):
        boxes = {"boxes": [{"x": 0, "y": 0, "w": 32, "h": 32, "prompt": "a red circle"}]}
        r = self.txt2img(prompt="", alwayson_scripts={"latent studio layout": {"args": [boxes]}})
        self.assertEqual(len(r["images"]), 1)
        self.assertIn("latent_studio", png_decode(base64.b64decode(r["images"][0]))[4])

    # ------------------------------------------------------------ img2img and inpainting
    def test_img2img_and_inpaint(self):
        init = b64png(64, 64, 3, gradient(64, 64), data_url=True)
        status, r = self.s.post("/sdapi/v1/img2img", dict(SMALL, init_images=[init], denoising_strength=0.6))
        self.assertEqual(status, 200, r)
        info = json.loads(r["info"])
        self.assertEqual(info["denoising_strength"], 0.6)
        self.assertIsNone(r["parameters"]["init_images"])  # include_init_images false
        # inpainting, whole picture, no blur: the unmasked half is the input exactly
        outs = {}
        for fill in range(4):
            status, r = self.s.post("/sdapi/v1/img2img", dict(
                SMALL, init_images=[init], mask=b64png(64, 64, 1, half_mask(64, 64)), mask_blur=0,
                inpaint_full_res=False, inpainting_fill=fill, denoising_strength=0.9))
            self.assertEqual(status, 200, r)
            w, h, ch, px, meta = png_decode(base64.b64decode(r["images"][0]))
            grad = gradient(64, 64)
            for y in range(64):
                row = slice((y * 64 + 32) * 3, (y * 64 + 64) * 3)
                self.assertEqual(px[row], grad[row], "fill %d: row %d of the kept half changed" % (fill, y))
            outs[fill] = px
        self.assertEqual(len(set(outs.values())), 4, "the four masked-content modes paint alike")
        self.assertIn("Masked content: latent nothing", json.loads(r["info"])["infotexts"][0])
        # only masked (A1111's API default) with the RGBA mask's alpha as the mask
        rgba = bytes(v for y in range(64) for x in range(64) for v in (0, 0, 0, 255 if x < 32 else 0))
        status, r = self.s.post("/sdapi/v1/img2img", dict(SMALL, init_images=[init], mask=b64png(64, 64, 4, rgba)))
        self.assertEqual(status, 200, r)
        self.assertIn("Inpaint area: Only masked", json.loads(r["info"])["infotexts"][0])

    def test_masked_content_in_infotext(self):
        init = b64png(64, 64, 3, gradient(64, 64))
        status, r = self.s.post("/sdapi/v1/img2img", dict(
            SMALL, init_images=[init], mask=b64png(64, 64, 1, half_mask(64, 64)), inpainting_fill=0))
        self.assertEqual(status, 200, r)
        self.assertIn("Masked content: fill", json.loads(r["info"])["infotexts"][0])

    # ------------------------------------------------------------ models, ControlNet
    def test_model_override_and_controlnet(self):
        status, r = self.s.post("/sdapi/v1/txt2img", dict(SMALL, override_settings={"sd_model_checkpoint": "tiny-sd1"}))
        self.assertEqual(status, 200, r)
        self.assertEqual(json.loads(r["info"])["sd_model_name"], "tiny-sd1")
        hint = b64png(64, 64, 3, gradient(64, 64))
        unit = {"enabled": True, "module": "canny", "model": "tiny-control", "weight": 1.0, "image": hint,
                "threshold_a": 50, "threshold_b": 100}
        body = dict(SMALL, override_settings={"sd_model_checkpoint": "tiny-sd1"})
        controlled = self.s.post("/sdapi/v1/txt2img", dict(body, alwayson_scripts={"controlnet": {"args": [unit]}}))
        self.assertEqual(controlled[0], 200, controlled[1])
        text = json.loads(controlled[1]["info"])["infotexts"][0]
        self.assertIn("ControlNet 0:", text)
        self.assertNotEqual(controlled[1]["images"][0], r["images"][0])
        # weight 0: exactly the picture without ControlNet
        zero = self.s.post("/sdapi/v1/txt2img",
                           dict(body, alwayson_scripts={"controlnet": {"args": [dict(unit, weight=0)]}}))[1]
        self.assertEqual(png_decode(base64.b64decode(zero["images"][0]))[3],
                         png_decode(base64.b64decode(r["images"][0]))[3])
        status, e = self.s.post("/sdapi/v1/txt2img", dict(body, alwayson_scripts={
            "controlnet": {"args": [dict(unit, model="nope")]}}))
        self.assertEqual(status, 422)
        self.assertEqual(e["detail"][0]["loc"][-1], "model")
        # the request's override does not stick: the next job runs on the server's model again
        self.assertEqual(json.loads(self.txt2img()["info"])["sd_model_name"], "model")
        status, e = self.s.post("/sdapi/v1/txt2img", dict(SMALL, override_settings={"sd_model_checkpoint": "nope"}))
        self.assertEqual(status, 422)

    def test_options_post(self):
        status, r = self.s.post("/sdapi/v1/options", {"sd_model_checkpoint": "tiny-sd1.safetensors"})
        self.assertEqual((status, r), (200, None))
        try:
            opts = self.s.get("/sdapi/v1/options")[1]
            self.assertTrue(opts["sd_model_checkpoint"].startswith("tiny-sd1.safetensors ["), opts)
            self.assertEqual(json.loads(self.txt2img()["info"])["sd_model_name"], "tiny-sd1")
        finally:
            self.s.post("/sdapi/v1/options", {"sd_model_checkpoint": "latent-studio-default"})
        self.assertEqual(self.s.post("/sdapi/v1/options", {"sd_model_checkpoint": "missing"})[0], 422)
        self.assertEqual(self.s.post("/sdapi/v1/options", [1, 2])[0], 422)

    # ------------------------------------------------------------ upscaling, png-info
    def test_extras(self):
        small = b64png(16, 16, 3, gradient(16, 16))
        status, r = self.s.post("/sdapi/v1/extra-single-image", {"image": small, "upscaler_1": "LDM",
                                                                 "upscaling_resize": 4})
        self.assertEqual(status, 200, r)
        self.assertEqual(png_decode(base64.b64decode(r["image"]))[:2], (64, 64))
        self.assertIn("Postprocess upscaler: LDM", r["html_info"])
        status, r = self.s.post("/sdapi/v1/extra-single-image", {"image": small, "upscaler_1": "Lanczos",
                                                                 "resize_mode": 1, "upscaling_resize_w": 40,
                                                                 "upscaling_resize_h": 20})
        self.assertEqual(png_decode(base64.b64decode(r["image"]))[:2], (40, 20))
        status, r = self.s.post("/sdapi/v1/extra-single-image", {"image": small})  # upscaler "None": unchanged
        self.assertEqual(png_decode(base64.b64decode(r["image"]))[3], gradient(16, 16))
        self.assertEqual(self.s.post("/sdapi/v1/extra-single-image", {"image": small, "upscaler_1": "X"})[0], 422)

    def test_png_info(self):
        r = self.txt2img()
        status, p = self.s.post("/sdapi/v1/png-info", {"image": "data:image/png;base64," + r["images"][0]})
        self.assertEqual(status, 200, p)
        self.assertEqual(p["info"], json.loads(r["info"])["infotexts"][0])
        self.assertEqual(p["parameters"]["Seed"], "5")
        self.assertIn("latent_studio", p["items"])

    # ------------------------------------------------------------ bad input
    def test_bad_fields(self):
        for body, loc in [({"steps": "many"}, "steps"), ({"cfg_scale": "x"}, "cfg_scale"),
                          ({"sampler_name": "Nope"}, "sampler_name"), ({"restore_faces": True}, "restore_faces"),
                          ({"steps": 0}, "steps"), ({"width": 100000}, "width"), ({"styles": ["s"]}, "styles"),
                          ({"alwayson_scripts": {"adetailer": {"args": []}}}, "alwayson_scripts"),
                          ({"enable_hr": True, "hr_upscaler": "Latent"}, "hr_upscaler")]:
            status, r = self.s.post("/sdapi/v1/txt2img", dict(SMALL, **body))
            self.assertEqual(status, 422, (body, r))
            self.assertEqual(r["detail"][0]["loc"][:2], ["body", loc], r)
            self.assertTrue(r["detail"][0]["msg"])
        status, r = self.s.post("/sdapi/v1/img2img", dict(SMALL, init_images=["%%%not base64"]))
        self.assertEqual(status, 422)
        self.assertEqual(r["detail"][0]["loc"][:2], ["body", "init_images"])
        status, r = self.s.post("/sdapi/v1/img2img", dict(SMALL, init_images=[base64.b64encode(b"junk").decode()]))
        self.assertEqual(status, 422)
        self.assertEqual(self.s.post("/sdapi/v1/img2img", dict(SMALL))[0], 422)  # no init image
        self.assertEqual(self.s.request("POST", "/sdapi/v1/txt2img", raw=b"{not json")[0], 422)
        self.assertEqual(self.s.request("POST", "/sdapi/v1/txt2img", raw=b"[1,2,3]")[0], 422)
        # unknown fields are ignored, as A1111 ignores them
        self.assertEqual(len(self.txt2img(some_new_field={"x": 1})["images"]), 1)

    def test_malformed_requests_never_crash(self):
        # A server of its own that refuses pictures over 128x128 (so that mutated requests stay small jobs)
        s = Server("--max-size", "128", "--models", self.models)
        try:
            self.malformed(s)
            self.assertIsNone(s.proc.poll(), "the server died")
            self.assertEqual(s.get("/sdapi/v1/progress")[0], 200)
            self.assertEqual(s.post("/sdapi/v1/txt2img", {})[0], 422)  # 512x512 by default: over the limit
        finally:
            s.stop()

    def malformed(self, s):
        import random
        rnd = random.Random(7)
        seeds = [json.dumps(dict(SMALL, init_images=["x"])).encode(), b'{"prompt": "\xff\xfe"}', b"\0" * 100,
                 b'{"steps": 1e400}', b'{"seed": 99999999999999999999999}', b'{"width": -1, "height": null}',
                 b'{"alwayson_scripts": {"controlnet": {"args": [1, null, {"image": 5}]}}}',
                 b'{"override_settings": "no"}', b'{"mask": "data:image/png;base64,", "init_images": []}']
        for i in range(60):
            blob = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(0, 4)):
                if blob:
                    blob[rnd.randrange(len(blob))] = rnd.randrange(256)
            for path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/extra-single-image",
                         "/sdapi/v1/png-info", "/sdapi/v1/options"):
                status, _ = s.request("POST", path, raw=bytes(blob))
                self.assertIn(status, (200, 404, 422), (path, bytes(blob)))

    def test_body_size_limit(self):
        s = Server("--no-bundled", "--max-body-mb", "1")
        try:
            status, _ = s.request("POST", "/sdapi/v1/txt2img", raw=b"{" + b" " * (2 << 20) + b"}")
            self.assertEqual(status, 413)
        finally:
            s.stop()

    # ------------------------------------------------------------ progress, interrupt, disconnect, concurrency
    def test_progress_previews_and_interrupt(self):
        result = {}

        def run():
            result["r"] = self.s.post("/sdapi/v1/txt2img", dict(SMALL, steps=400, width=128, height=128))

        t = threading.Thread(target=run)
        t.start()
        seen = None
        deadline = time.time() + 120
        while time.time() < deadline:
            p = self.s.get("/sdapi/v1/progress")[1]
            if p["state"]["sampling_step"] >= 3 and p["current_image"]:
                seen = p
                break
            time.sleep(0.05)
        self.assertIsNotNone(seen, "no progress with a preview")
        self.assertGreater(seen["progress"], 0)
        self.assertLess(seen["progress"], 1)
        self.assertGreater(seen["eta_relative"], 0)
        self.assertEqual(seen["state"]["job_count"], 1)
        self.assertEqual(seen["state"]["sampling_steps"], 400)
        pw, ph = png_decode(base64.b64decode(seen["current_image"]))[:2]
        self.assertTrue(pw == ph and pw in (32, 128), (pw, ph))  # the latent-size projection or a decode
        self.assertIsNone(self.s.get("/sdapi/v1/progress?skip_current_image=true")[1]["current_image"])
        self.assertEqual(self.s.post("/sdapi/v1/interrupt"), (200, {}))
        # the stop is set once the interrupt has answered: from the step seen then, one UNet call at most
        step_at_interrupt = self.s.get("/sdapi/v1/progress")[1]["state"]["sampling_step"]
        t.join(60)
        self.assertFalse(t.is_alive(), "the interrupted job did not answer")
        status, r = result["r"]
        self.assertEqual(status, 200, r)
        self.assertEqual(r["images"], [])
        # stopped within one UNet call of the interrupt (Euler a: one guided call per step)
        after = self.s.get("/sdapi/v1/progress")[1]
        self.assertLessEqual(after["state"]["sampling_step"], step_at_interrupt + 1)
        self.assertTrue(after["state"]["interrupted"])
        self.assertEqual(after["state"]["job_count"], 0)
        self.assertEqual(after["progress"], 0)

    def test_client_disconnect_frees_the_job(self):
        body = json.dumps(dict(SMALL, steps=1000, width=128, height=128)).encode()
        sock = socket.create_connection(("127.0.0.1", self.s.port))
        sock.sendall(b"POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        def running(p):  # this job (1000 steps), not the state an earlier job left behind
            st = p["state"]
            return st["job_count"] == 1 and st["sampling_steps"] == 1000 and st["sampling_step"] >= 2

        deadline = time.time() + 60
        while time.time() < deadline and not running(self.s.get("/sdapi/v1/progress")[1]):
            time.sleep(0.05)
        self.assertTrue(running(self.s.get("/sdapi/v1/progress")[1]), "the job did not start")
        sock.close()
        deadline = time.time() + 30
        while time.time() < deadline and self.s.get("/sdapi/v1/progress")[1]["state"]["job_count"] != 0:
            time.sleep(0.1)
        p = self.s.get("/sdapi/v1/progress")[1]
        self.assertEqual(p["state"]["job_count"], 0, "the job of the client that left is still running")
        self.assertLess(p["state"]["sampling_step"], 500)
        self.assertEqual(len(self.txt2img()["images"]), 1)

    def test_concurrent_clients(self):
        results = [None] * 4

        def run(i):
            results[i] = self.s.post("/sdapi/v1/txt2img", dict(SMALL, seed=100 + i))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        for i, (status, r) in enumerate(results):
            self.assertEqual(status, 200, r)
            self.assertEqual(json.loads(r["info"])["seed"], 100 + i)
        self.assertEqual(len({r["images"][0] for _, r in results}), 4)


class AuthTest(unittest.TestCase):
    def test_auth(self):
        s = Server("--no-bundled", "--api-auth", "alice:secret,bob:pw")
        try:
            status, r = s.get("/sdapi/v1/sd-models")
            self.assertEqual(status, 401)
            self.assertIn("detail", r)
            self.assertEqual(s.get("/sdapi/v1/sd-models", auth="alice:wrong")[0], 401)
            self.assertEqual(s.get("/sdapi/v1/sd-models", auth="alice:secret"), (200, []))
            self.assertEqual(s.get("/sdapi/v1/progress", auth="bob:pw")[0], 200)
        finally:
            s.stop()

    def test_other_hosts_need_auth(self):
        p = subprocess.run([CLI, "serve", "--host", "0.0.0.0", "--port", "0", "--no-bundled"], capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--api-auth", p.stderr)


if __name__ == "__main__":
    CLI, SHARED = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
