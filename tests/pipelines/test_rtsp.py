#!/usr/bin/python3
"""pipelines/camera.sh --uri against a real RTSP server (Debian's
gst-rtsp-server through GI, rtsp_server.py, started here on 127.0.0.1 at a
free port, serving an H.264 clip made here from opencv-doc's vtest.avi,
with basic authentication):

- the password from a 0600 --password-file works; results go to a JSON
  Lines file, every line well formed;
- the server killed (SIGKILL) mid-stream and started again 1.5 s later:
  camera.sh says the camera was lost, reconnects with backoff and the
  results continue in the same file (appended; frame numbers restart with
  the new session) until --num-buffers frames, exit 0;
- the password (from $SHUFFLENET_CAMERA_PASSWORD) never appears in the
  output nor in GST_DEBUG=*:9 output, plain or base64 as in the
  Authorization header; a password written in the URI is moved out of the
  command line with a warning and still works;
- a wrong password ends the run at once ("refused the user name or
  password"), without retries; a server that is not there ends it with
  GStreamer's error under --no-reconnect.

Usage: test_rtsp.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import base64
import os
import subprocess
import time

import pipetest as pt
import services

USER, PASSWORD = "viewer", "rtsp-Pw:7!"
FRAMES = 60


def camera(url, *extra, env=None, timeout=90):
    argv = [pt.script("camera.sh"), "--build", ARGS.build, "--uri", url,
            "--sink", "fakesink sync=true", "--size", "160x120", *extra]
    return argv, dict(os.environ, **(env or {}))


def lines_of(path):
    return pt.read_jsonl(path) if os.path.exists(path) else []


def test_reconnect(tmp, clip):
    server = services.RtspServer(tmp, clip, user=USER,
                                 password=PASSWORD).start()
    secret = f"{tmp}/camera.pass"
    with open(secret, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(secret, 0o600)
    results = f"{tmp}/camera.jsonl"
    url = server.url.replace("rtsp://", f"rtsp://{USER}@")
    argv, env = camera(url, "--password-file", secret, "--results", results,
                       "--num-buffers", str(FRAMES))
    print("$", " ".join(argv), flush=True)
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        until = time.monotonic() + 30
        while len(lines_of(results)) < 15 and time.monotonic() < until \
                and p.poll() is None:
            time.sleep(0.1)
        before = len(lines_of(results))
        pt.check(before >= 15, f"only {before} results before the kill")
        server.kill()
        print(f"server killed after {before} results", flush=True)
        time.sleep(1.5)
        server.start()
        print("server started again", flush=True)
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pt.fail(f"camera.sh did not finish:\n{err}")
    finally:
        if p.poll() is None:
            p.kill()
    print(err)
    pt.check(p.returncode == 0, f"exit status {p.returncode}")
    pt.check("the source was lost" in err and "reconnecting in" in err, err)
    results = lines_of(results)
    pt.check(len(results) == FRAMES, f"{len(results)} results, not {FRAMES}")
    for i, r in enumerate(results):
        pt.check_result(r, 3, f"line {i + 1}")
    frames = [r["frame"] for r in results]
    restart = [i for i in range(1, len(frames)) if frames[i] <= frames[i - 1]]
    pt.check(len(restart) == 1 and restart[0] >= 15
             and frames == list(range(restart[0]))
             + list(range(FRAMES - restart[0])),
             f"frame numbers: {frames}")
    print(f"ok: RTSP with a password file: {restart[0]} results, server "
          f"killed and restarted, reconnected, {FRAMES - restart[0]} more "
          "results appended")
    server.stop()


def test_credentials(tmp, clip):
    server = services.RtspServer(tmp, clip, user=USER,
                                 password=PASSWORD).start()
    url = server.url.replace("rtsp://", f"rtsp://{USER}@")
    debug = f"{tmp}/rtsp-debug.log"
    argv, env = camera(url, "--num-buffers", "5", env={
        "SHUFFLENET_CAMERA_PASSWORD": PASSWORD, "GST_DEBUG": "*:9",
        "GST_DEBUG_FILE": debug, "GST_DEBUG_NO_COLOR": "1"})
    p = pt.run(argv, env=env)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with open(debug, errors="replace") as f:
        log = f.read()
    for where, text in (("the output", p.stdout + p.stderr),
                        ("GST_DEBUG=*:9 output", log)):
        pt.check(PASSWORD not in text and basic not in text,
                 f"the password leaked into {where}")
    print(f"ok: $SHUFFLENET_CAMERA_PASSWORD works; the password is not in "
          f"the output or GST_DEBUG=*:9 ({len(log) >> 20} MiB), plain or "
          "base64")

    inline = server.url.replace("rtsp://", f"rtsp://{USER}:{PASSWORD}@")
    argv, env = camera(inline, "--num-buffers", "5")
    p = pt.run(argv, env=env)
    pt.check("warning: the camera's password was on the command line"
             in p.stderr, p.stderr)
    pt.check(PASSWORD not in p.stdout + p.stderr, "the password was printed")
    print("ok: a password in the URI works, moved off the command line "
          "with a warning")

    t0 = time.monotonic()
    argv, env = camera(url, "--num-buffers", "5",
                       env={"SHUFFLENET_CAMERA_PASSWORD": "wrong"})
    p = pt.run(argv, env=env, expect=1, timeout=30)
    pt.check("refused the user name or password" in p.stderr
             and "reconnecting" not in p.stderr, p.stderr)
    print(f"ok: a wrong password ends the run in "
          f"{time.monotonic() - t0:.1f} s, no retries")
    server.stop()

    port = services.free_port()
    argv, env = camera(f"rtsp://127.0.0.1:{port}/clip", "--no-reconnect")
    p = pt.run(argv, env=env, expect=1, timeout=30)
    pt.check("Could not open resource" in p.stderr, p.stderr)
    print("ok: no server and --no-reconnect: GStreamer's error, exit 1")


def main():
    tmp = pt.setup(ARGS)
    pt.need_file(pt.VTEST)
    # 20 s at 10 fps: longer than the test streams from one session.
    clip = pt.make_h264(pt.VTEST, f"{tmp}/street.mp4", 200)
    t = time.monotonic()
    for test in (test_credentials, test_reconnect):
        test(tmp, clip)
        print(f"   ({time.monotonic() - t:.1f} s)")
        t = time.monotonic()


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
