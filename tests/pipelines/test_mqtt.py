#!/usr/bin/python3
"""shufflenetjson publishing to a real MQTT broker (Debian's mosquitto,
started here on 127.0.0.1 at free ports, with config files written here;
subscribers with python3-paho-mqtt):

- every frame's line arrives, in order, QoS 0 and QoS 1, from gst-launch-1.0
  as a user would type it;
- two cameras publishing to one broker, a topic each, collected by
  pipelines/embed/sn-subscribe.py with one topic filter;
- the broker killed (SIGKILL) and restarted mid-stream on a live source:
  the pipeline neither stalls nor fails, the lines missing at the subscriber
  are one run from the outage, the element's mqtt-dropped count give or
  take the lines in flight at the kill, and no more than the outage
  produced beyond the queue bound;
- a broker that accepts the connection and never answers: the streaming
  thread never waits (100 frames pass at full speed), EOS gives up after
  its bound with a warning, every line is counted as dropped;
- credentials: a broker with a password file; the password from
  $SHUFFLENET_MQTT_PASSWORD and from a 0600 mqtt-password-file works, a
  0644 file is refused, a wrong password fails at once with "not
  authorised"; the password never appears in the output of
  gst-launch-1.0 -m -v, in GST_DEBUG=*:9 output, in error or bus
  messages, nor in `location` read back (masked), also when it was given
  in the URL through the property;
- mqtts:// with a CA made here (openssl): works with mqtt-ca-file, fails at
  once with "certificate verify failed" without it.

Usage: test_mqtt.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import json
import os
import subprocess
import sys
import time

import pipetest as pt
import services
from pipetest import Gst

SRC = ("videotestsrc pattern=ball num-buffers={n} ! "
       "video/x-raw,width=160,height=120,framerate=30/1")
USER, PASSWORD = "sn-cam-7", "Pw-4-sn!test:x"


def frames_of(messages, where):
    out = []
    for m in messages:
        r = json.loads(m)
        pt.check_result(r, 1, where)
        out.append(r["frame"])
    return out


def launch(argv, env=None, fails=False, timeout=60):
    """gst-launch-1.0 ARGV; fails: must exit non-zero (1 for an error while
    playing, 255 when the state change failed)."""
    p = pt.run(["gst-launch-1.0", *argv], env=env,
               expect=None if fails else 0, timeout=timeout)
    if fails:
        pt.check(p.returncode != 0, f"no failure:\n{p.stdout}\n{p.stderr}")
    return p


def test_in_order(tmp):
    broker = services.Mosquitto(tmp, "plain").start()
    n = 100
    for qos in (0, 1):
        topic = f"sites/lab/cam-{qos}/shufflenet"
        sub = services.Subscriber(broker.port, topic, qos=1)
        launch(["-q", *SRC.format(n=n).split(), "!", "shufflenet", "top-k=1",
                "!", "shufflenetjson",
                f"location=mqtt://127.0.0.1:{broker.port}/{topic}",
                f"mqtt-qos={qos}", "!", "fakesink"])
        got = sub.wait_count(n, 10)
        sub.close()
        frames = frames_of(sub.messages, f"QoS {qos}")
        pt.check(frames == list(range(n)),
                 f"QoS {qos}: {got} lines, frames {frames[:5]}...")
        print(f"ok: QoS {qos}: all {n} lines arrived in order")
    broker.stop()


def test_fleet(tmp):
    """Two cameras on one broker, a topic each; pipelines/embed/
    sn-subscribe.py collects both with one topic filter."""
    broker = services.Mosquitto(tmp, "fleet").start()
    n = 20
    sub = subprocess.Popen(
        ["/usr/bin/python3", pt.script("embed/sn-subscribe.py"), "--json",
         "--count", str(2 * n), "--timeout", "20",
         f"mqtt://127.0.0.1:{broker.port}/sites/+/cams/+/shufflenet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = sub.stderr.readline()
        pt.check("listening to sites/+/cams/+/shufflenet" in line, line)
        cams = []
        for cam in ("door", "yard"):
            cams.append(subprocess.Popen(
                ["gst-launch-1.0", "-q", *SRC.format(n=n).split(), "!",
                 "shufflenet", "top-k=1", "!", "shufflenetjson",
                 f"location=mqtt://127.0.0.1:{broker.port}/sites/lab/cams/"
                 f"{cam}/shufflenet", "!", "fakesink"]))
        for c in cams:
            pt.check(c.wait(60) == 0, "a camera pipeline failed")
        out, err = sub.communicate(timeout=30)
    finally:
        for proc in [sub] + cams:
            if proc.poll() is None:
                proc.kill()
    lines = [json.loads(x) for x in out.splitlines()]
    pt.check(sub.returncode == 0 and len(lines) == 2 * n,
             f"sn-subscribe.py: exit {sub.returncode}, {len(lines)} lines\n"
             f"{err}")
    p = pt.run(["/usr/bin/python3", pt.script("embed/sn-subscribe.py"),
                "--help"])
    pt.check("topic-filter" in p.stdout, p.stdout)
    broker.stop()
    print(f"ok: two cameras, one broker: sn-subscribe.py got all {2 * n} "
          "lines through sites/+/cams/+/shufflenet")


def play(pipeline, on_tick=None, timeout=60):
    """Runs to EOS; the bus messages with their monotonic times."""
    bus = pipeline.get_bus()
    log = []
    pipeline.set_state(Gst.State.PLAYING)
    t0 = time.monotonic()
    while True:
        msg = bus.timed_pop(50 * Gst.MSECOND)
        now = time.monotonic() - t0
        if on_tick:
            on_tick(now)
        if now > timeout:
            pipeline.set_state(Gst.State.NULL)
            pt.fail(f"no EOS after {timeout} s: stalled? {log}")
        if msg is None:
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            pipeline.set_state(Gst.State.NULL)
            pt.fail(f"error: {err.message} ({dbg})")
        if msg.type in (Gst.MessageType.WARNING, Gst.MessageType.INFO):
            err = (msg.parse_warning() if msg.type == Gst.MessageType.WARNING
                   else msg.parse_info())[0]
            log.append((now, msg.type, err.message))
            print(f"  {now:6.2f} s {err.message}")
        if msg.type == Gst.MessageType.EOS:
            return log, now


def test_broker_restart(tmp):
    """Live 30 fps; the broker SIGKILLed at 2 s, back at 3.2 s."""
    fps, n, queue, kill_at, back_at = 30, 210, 5, 2.0, 3.2
    topic = "sites/lab/cam-restart/shufflenet"
    # Persistence keeps the subscriber's session across the restart (saved
    # on SIGUSR1 before the kill), so that lines the element publishes
    # after reconnecting are queued for it even before it is back.
    broker = services.Mosquitto(tmp, "restart", [
        "persistence true", f"persistence_location {tmp}/",
        "autosave_interval 0"]).start()
    sub = services.Subscriber(broker.port, topic, qos=1, persistent=True)
    os.kill(broker.proc.pid, __import__("signal").SIGUSR1)
    for _ in range(100):
        if os.path.exists(f"{tmp}/mosquitto.db"):
            break
        time.sleep(0.05)
    pt.check(os.path.exists(f"{tmp}/mosquitto.db"), "broker saved no db")

    pipeline = Gst.parse_launch(
        f"videotestsrc is-live=true pattern=ball num-buffers={n} ! "
        f"video/x-raw,width=160,height=120,framerate={fps}/1 ! "
        "shufflenet top-k=1 ! shufflenetjson name=j "
        f"location=mqtt://127.0.0.1:{broker.port}/{topic} mqtt-qos=1 "
        f"mqtt-queue-size={queue} ! fakesink sync=false")
    state = {"killed": False, "restarted": False}

    def tick(now):
        if now >= kill_at and not state["killed"]:
            broker.kill()
            state["killed"] = now
            print(f"  {now:6.2f} s broker killed")
        if now >= back_at and not state["restarted"]:
            broker.start()
            state["restarted"] = now
            print(f"  {now:6.2f} s broker restarted")

    log, end = play(pipeline, tick, timeout=n / fps + 30)
    dropped = pipeline.get_by_name("j").get_property("mqtt-dropped")
    pipeline.set_state(Gst.State.NULL)
    sub.wait_count(n - dropped, 10)
    sub.close()
    broker.stop()

    lost = [t for t, kind, m in log if "Lost the connection" in m]
    back = [t for t, kind, m in log if "Reconnected" in m]
    pt.check(len(lost) == 1 and len(back) == 1,
             f"expected one loss and one reconnection: {log}")
    frames = frames_of(sub.messages, "restart")
    seen, order = set(), []
    for f in frames:  # QoS 1: a line may arrive twice, never out of order
        if f not in seen:
            seen.add(f)
            order.append(f)
    pt.check(order == sorted(order), f"out of order: {order}")
    missing = sorted(set(range(n)) - seen)
    outage_frames = (back[0] - lost[0]) * fps
    print(f"  lines: {n}, received {len(frames)} ({len(frames) - len(seen)} "
          f"twice), missing {len(missing)} "
          f"({missing[0] if missing else '-'}..{missing[-1] if missing else '-'})"
          f", mqtt-dropped {dropped}, outage {back[0] - lost[0]:.2f} s = "
          f"~{outage_frames:.0f} frames, queue {queue}")
    pt.check(dropped > 0, "the outage never filled the queue: test too short")
    pt.check(missing == list(range(missing[0], missing[0] + len(missing))),
             f"missing lines are not one run: {missing}")
    # The lines dropped are the oldest of the outage. The two counts differ
    # by at most the element's 32 lines in flight at the kill: those it had
    # sent but not seen acknowledged go back to the queue (and may then be
    # dropped although the broker had them), and the broker may lose lines
    # it had acknowledged but not yet delivered.
    pt.check(abs(len(missing) - dropped) <= 32,
             f"missing {len(missing)}, dropped {dropped}")
    pt.check(dropped <= outage_frames - queue + fps * 0.5,
             f"dropped {dropped}: more than the outage's {outage_frames:.0f} "
             f"frames beyond the queue of {queue}")
    pt.check(end < n / fps + 8, f"EOS after {end:.1f} s: the stream stalled")
    print(f"ok: broker killed and restarted: {len(missing)} lines lost "
          f"(mqtt-dropped {dropped}), the rest in order, EOS at {end:.1f} s")


def test_black_hole(tmp):
    """A 'broker' that accepts TCP and never answers."""
    import socket
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    n, queue = 100, 20
    pipeline = Gst.parse_launch(
        f"{SRC.format(n=n)} ! shufflenet top-k=1 ! shufflenetjson name=j "
        f"location=mqtt://127.0.0.1:{hole.getsockname()[1]}/t "
        f"mqtt-queue-size={queue} ! fakesink name=sink")
    passed = []
    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda p, i: passed.append(time.monotonic())
        or Gst.PadProbeReturn.OK)
    log, end = play(pipeline, timeout=40)
    eos = time.monotonic()
    dropped = pipeline.get_by_name("j").get_property("mqtt-dropped")
    pipeline.set_state(Gst.State.NULL)
    after = pipeline.get_by_name("j").get_property("mqtt-dropped")
    hole.close()
    streaming, flush = passed[-1] - passed[0], eos - passed[-1]
    pt.check(len(passed) == n, f"{len(passed)} buffers of {n}")
    pt.check(any("still wait" in m for _, _, m in log),
             f"no EOS warning: {log}")
    pt.check(dropped == n - queue and after == n,
             f"mqtt-dropped {dropped} while playing, {after} once stopped")
    # Inference alone takes ~0.3 s here (~10 s under ASan on a loaded
    # machine); EOS then waits its 5 s for the broker.
    pt.check(streaming < 30 and 4.5 < flush < 10,
             f"{n} frames took {streaming:.1f} s, EOS {flush:.1f} s later")
    print(f"ok: silent broker: {n} frames in {streaming:.1f} s, EOS gave up "
          f"{flush:.1f} s later, mqtt-dropped {dropped} playing, {after} "
          "stopped")


def no_secret(where, text):
    pt.check(PASSWORD not in text, f"the password leaked into {where}")


def test_credentials(tmp):
    pwfile = f"{tmp}/broker.passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", pwfile, USER, PASSWORD],
                   check=True, capture_output=True)
    os.chmod(pwfile, 0o600)
    broker = services.Mosquitto(tmp, "auth", [
        "allow_anonymous false", f"password_file {pwfile}"]).start()
    topic = "sites/lab/cam-auth/shufflenet"
    sub = services.Subscriber(broker.port, topic, user=USER,
                              password=PASSWORD)
    n = 10
    base = [*SRC.format(n=n).split(), "!", "shufflenet", "top-k=1", "!",
            "shufflenetjson"]
    url = f"mqtt://{USER}@127.0.0.1:{broker.port}/{topic}"

    # The environment variable, with everything GStreamer can print.
    env = dict(os.environ, SHUFFLENET_MQTT_PASSWORD=PASSWORD, GST_DEBUG="*:9",
               GST_DEBUG_FILE=f"{tmp}/debug.log", GST_DEBUG_NO_COLOR="1")
    p = launch(["-m", "-v", *base, f"location={url}", "!", "fakesink"],
               env=env)
    no_secret("gst-launch-1.0 -m -v output", p.stdout + p.stderr)
    with open(f"{tmp}/debug.log", errors="replace") as f:
        debug = f.read()
    no_secret("GST_DEBUG=*:9 output", debug)
    pt.check("Connected to the MQTT broker" in p.stdout + p.stderr,
             f"no connection message:\n{p.stdout}")
    pt.check(sub.wait_count(n, 10) == n, f"env: {sub.count()} lines")
    print(f"ok: password from $SHUFFLENET_MQTT_PASSWORD: {n} lines; not in "
          f"gst-launch -m -v or GST_DEBUG=*:9 ({len(debug) >> 20} MiB)")

    # A password file: private works, readable by others is refused.
    secret = f"{tmp}/mqtt.pass"
    with open(secret, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(secret, 0o644)
    p = launch([*base, f"location={url}", f"mqtt-password-file={secret}",
                "!", "fakesink"], fails=True)
    pt.check("chmod 600" in p.stdout + p.stderr, p.stdout + p.stderr)
    os.chmod(secret, 0o600)
    launch(["-q", *base, f"location={url}", f"mqtt-password-file={secret}",
            "!", "fakesink"])
    pt.check(sub.wait_count(2 * n, 10) == 2 * n, f"file: {sub.count()} lines")
    print("ok: a 0600 mqtt-password-file works, a 0644 one is refused")

    # A wrong password: a clear error at once, no retries, no hang.
    t0 = time.monotonic()
    p = launch([*base, f"location=mqtt://{USER}:wrong-{PASSWORD}@127.0.0.1:"
                f"{broker.port}/{topic}", "!", "fakesink"], fails=True,
               timeout=20)
    out = p.stdout + p.stderr
    pt.check("not authorised" in out and USER in out, out)
    pt.check(time.monotonic() - t0 < 10, "the refusal took too long")
    no_secret("the error of a wrong password", out)
    print(f"ok: a wrong password fails in {time.monotonic() - t0:.1f} s: "
          "not authorised")

    # The password in the URL, set through the property in a program: the
    # child runs with GST_DEBUG=*:9 from its start.
    p = pt.run([sys.executable, __file__, "--build", ARGS.build, "--stamp",
                ARGS.stamp, "--child-url-password", str(broker.port)],
               env=env, timeout=60)
    no_secret("a program's output", p.stdout + p.stderr)
    with open(f"{tmp}/debug.log", errors="replace") as f:
        debug = f.read()
    no_secret("GST_DEBUG=*:9 output (URL password)", debug)
    pt.check(f"location reads back mqtt://{USER}:***@127.0.0.1:" in p.stdout,
             p.stdout)
    pt.check(sub.wait_count(3 * n, 10) == 3 * n, f"URL: {sub.count()} lines")
    print("ok: a password in the URL (set from a program) works, reads back "
          "masked, is not in GST_DEBUG=*:9 output or bus messages")
    sub.close()
    broker.stop()


def child_url_password(port):
    """Sets location with the password from a program, reads it back,
    plays, prints every bus message."""
    pt.setup(ARGS)
    n = 10
    topic = "sites/lab/cam-auth/shufflenet"
    pipeline = Gst.parse_launch(f"{SRC.format(n=n)} ! shufflenet top-k=1 ! "
                                "shufflenetjson name=j ! fakesink")
    j = pipeline.get_by_name("j")
    j.set_property("location", f"mqtt://{USER}:{PASSWORD}@127.0.0.1:{port}/"
                   f"{topic}")
    print("location reads back", j.get_property("location"))
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop(10 * Gst.SECOND)
        if msg is None:
            pt.fail("no EOS")
        s = msg.get_structure()
        print(msg.type, msg.src.get_name(), s.to_string() if s else "")
        if msg.type in (Gst.MessageType.WARNING, Gst.MessageType.INFO,
                        Gst.MessageType.ERROR):
            err, dbg = (msg.parse_error() if msg.type == Gst.MessageType.ERROR
                        else msg.parse_warning()
                        if msg.type == Gst.MessageType.WARNING
                        else msg.parse_info())
            print(" ", err.message, dbg)
        if msg.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
            break
    pipeline.set_state(Gst.State.NULL)
    print("location reads back", j.get_property("location"))
    sys.exit(0 if msg.type == Gst.MessageType.EOS else 1)


def test_tls(tmp):
    ca, key, cert = f"{tmp}/ca.pem", f"{tmp}/server.key", f"{tmp}/server.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    with open(f"{tmp}/san.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for argv in (["req", "-x509", *ec, "-keyout", f"{tmp}/ca.key", "-out", ca,
                  "-days", "2", "-subj", "/CN=sn-test-ca"],
                 ["req", *ec, "-keyout", key, "-out", f"{tmp}/server.csr",
                  "-subj", "/CN=127.0.0.1"],
                 ["x509", "-req", "-in", f"{tmp}/server.csr", "-CA", ca,
                  "-CAkey", f"{tmp}/ca.key", "-CAcreateserial", "-out", cert,
                  "-days", "2", "-extfile", f"{tmp}/san.ext"]):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    broker = services.Mosquitto(tmp, "tls", [
        f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]).start()
    topic = "sites/lab/cam-tls/shufflenet"
    sub = services.Subscriber(broker.port, topic, tls_ca=ca)
    n = 10
    base = [*SRC.format(n=n).split(), "!", "shufflenet", "top-k=1", "!",
            "shufflenetjson", f"location=mqtts://127.0.0.1:{broker.port}/"
            f"{topic}"]
    launch(["-q", *base, f"mqtt-ca-file={ca}", "!", "fakesink"])
    pt.check(sub.wait_count(n, 10) == n, f"TLS: {sub.count()} lines")
    p = launch([*base, "!", "fakesink"], fails=True, timeout=20)
    pt.check("certificate verify failed" in p.stdout + p.stderr,
             p.stdout + p.stderr)
    sub.close()
    broker.stop()
    print("ok: mqtts:// with mqtt-ca-file; without it: certificate verify "
          "failed")


def main():
    tmp = pt.setup(ARGS)
    t = time.monotonic()
    for test in (test_in_order, test_fleet, test_credentials, test_tls,
                 test_black_hole, test_broker_restart):
        test(tmp)
        print(f"   ({time.monotonic() - t:.1f} s)")
        t = time.monotonic()


if __name__ == "__main__":
    if "--child-url-password" in sys.argv:
        i = sys.argv.index("--child-url-password")
        port = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
        ARGS = pt.parse_args()
        child_url_password(port)
    ARGS = pt.parse_args()
    main()
