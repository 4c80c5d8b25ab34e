"""Drift monitoring: PSI and the window, the reference training writes, the alert rules under promtool, and a
real Prometheus scraping the app on loopback: skewed traffic fires the drift alert, validation traffic does not."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from helpers.serving_fixtures import free_port, serve

import app as app_module
from hatespeech.inference.classifier import Classifier
from hatespeech.monitoring import DriftWindow, psi, read_reference, statistics

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(not (PROMETHEUS and PROMTOOL), reason="Debian prometheus is not installed "
                                      "(make test installs it)")  # fmt: skip


def test_psi_is_zero_for_the_same_histogram_and_grows_with_the_shift():
    same = statistics([0.1, 0.7, 0.9], [10, 20, 30], [0, 1, 0])
    assert psi(same["probability_histogram"], same["probability_histogram"]) == 0
    shifted = statistics([0.95, 0.97, 0.99], [10, 20, 30], [0, 1, 0])
    further = statistics([0.99, 0.99, 0.99], [90, 90, 90], [0, 1, 0])
    assert 0 < psi(same["probability_histogram"], shifted["probability_histogram"])
    assert psi(same["length_histogram"], further["length_histogram"]) > 0.25
    assert same["pred_hate_rate"] == pytest.approx(2 / 3) and same["unknown_share"] == pytest.approx(1 / 60)


def test_the_window_keeps_the_latest_predictions_only():
    window = DriftWindow(size=3)
    for hate in (0.9, 0.9, 0.1, 0.1, 0.1):
        window.add(hate, 10, 0)
    assert window.statistics()["n"] == 3 and window.statistics()["pred_hate_rate"] == 0


def test_training_writes_the_validation_reference(trained_model_dir, tweeteval_dir):
    reference = json.loads((trained_model_dir / "reference.json").read_text())
    assert reference["n"] == 16 and sum(reference["probability_histogram"]) == pytest.approx(1)
    assert sum(reference["length_histogram"]) == pytest.approx(1) and 0 <= reference["unknown_share"] <= 1


@needs_prometheus
def test_alert_rules_pass_promtool():
    checked = subprocess.run([PROMTOOL, "test", "rules", str(MONITORING / "alerts_test.yml")], capture_output=True,
                             text=True, cwd=MONITORING)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


@pytest.fixture()
def served_model(trained_model_dir, tmp_path, monkeypatch):
    """The tiny model with a reference computed through the serving Classifier itself (so validation traffic
    matches it bin for bin), served with a 250-prediction drift window."""
    folder = tmp_path / "model"
    shutil.copytree(trained_model_dir, folder)
    texts = [line.strip() for line in (trained_model_dir.parent / "data" / "val_text.txt").read_text().splitlines()]
    predictions = Classifier(str(folder)).classify(texts)
    reference = statistics([p.probabilities["hate"] for p in predictions], [p.tokens for p in predictions],
                           [p.unknown for p in predictions])  # fmt: skip
    (folder / "reference.json").write_text(json.dumps(reference))
    monkeypatch.setenv("DRIFT_WINDOW", "250")
    with serve(app_module.create_app(str(folder))) as url:
        yield url, texts


def _alerts(prometheus_url: str) -> dict[str, str]:
    alerts = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {alert["labels"]["alertname"]: alert["state"] for alert in alerts}


def _send(url: str, texts: list[str], n: int) -> None:
    for start in range(0, n, 100):
        batch = [texts[i % len(texts)] for i in range(start, min(start + 100, n))]
        assert httpx.post(f"{url}/v1/classify", json={"texts": batch}, timeout=60).status_code == 200


@pytest.mark.slow
@needs_prometheus
def test_a_real_prometheus_fires_the_drift_alert_on_skewed_traffic_only(served_model, tmp_path):
    url, validation = served_model
    # The shipped rules, with the 10-minute `for` shortened to 4 s and every other line as it is.
    rules = (MONITORING / "alerts.yml").read_text().replace("for: 10m", "for: 4s")
    (tmp_path / "alerts.yml").write_text(rules)
    port = free_port()
    config = (MONITORING / "prometheus.yml").read_text().replace("15s", "1s").replace("127.0.0.1:7860", url[7:])
    (tmp_path / "prometheus.yml").write_text(config)
    command = [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    log = (tmp_path / "prometheus.log").open("w")
    prometheus = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    prometheus_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # ready once it has scraped the app
            try:
                targets = httpx.get(f"{prometheus_url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
                if targets and targets[0]["health"] == "up":
                    break
            except (httpx.TransportError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        # Traffic drawn from validation: the window matches the reference; nothing may fire or even pend.
        _send(url, validation, 250)
        quiet_until = time.monotonic() + 4 + 3  # the rule's `for`, plus scrapes and evaluations
        while time.monotonic() < quiet_until:
            assert "HateSpeechInputDrift" not in _alerts(prometheus_url)
            time.sleep(0.5)
        # Skewed traffic: long texts of words the tokenizer does not know.
        skewed = [" ".join(f"zq{i}x{j}" for j in range(40)) for i in range(50)]
        _send(url, skewed, 250)
        sent, state = time.monotonic(), None
        while state != "firing":  # within the rule's `for`, one scrape and one evaluation (1 s each), + 2 s slack
            state = _alerts(prometheus_url).get("HateSpeechInputDrift")
            assert time.monotonic() - sent < 4 + 1 + 1 + 2, f"not firing (state {state})"
            time.sleep(0.25)
        print(f"drift alert firing {time.monotonic() - sent:.1f} s after the skewed traffic")
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert 'hatespeech_drift_psi{statistic="length"}' in metrics
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)


def test_the_model_tab_drift_view_compares_the_window_with_the_reference():
    from types import SimpleNamespace

    from hatespeech.serving.service import Telemetry
    from hatespeech.serving.ui import drift_view

    telemetry = Telemetry()
    assert drift_view(SimpleNamespace(telemetry=telemetry))[1] is None  # no reference: said, not plotted
    telemetry.drift.reference = statistics([0.2] * 10, [10] * 10, [0] * 10)
    for _ in range(10):
        telemetry.window.add(0.9, 70, 5)
    text, figure = drift_view(SimpleNamespace(telemetry=telemetry))
    assert "predicted hate 1.000 (validation 0.000)" in text and figure is not None


def test_explanations_stay_out_of_the_label_counts_and_the_drift_window(trained_model_dir):
    """Finding 1: one 48-word explanation added 49 predictions (the tweet and each word deleted) to telemetry."""
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        text = " ".join(["go back invaders"] * 16)
        assert httpx.post(f"{url}/v1/explain", json={"text": text}, timeout=60).status_code == 200
        assert httpx.post(f"{url}/v1/classify", json={"texts": ["hello", "go back"]}, timeout=60).status_code == 200
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
    assert _value(metrics, "hatespeech_window_predictions") == 2
    assert sum(_value(metrics, f'hatespeech_predicted_total{{label="{label}"}}') for label in ("hate", "not-hate")) == 2


def _value(metrics: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(name + " "))


@pytest.mark.parametrize(
    "content",
    [b"5", b"null", b"\xff\xfe not utf-8", b'{"pred_hate_rate": 0.4}',
     json.dumps({"pred_hate_rate": 0.4, "unknown_share": 0.0, "probability_histogram": [0.1] * 9,
                 "length_histogram": [0.125] * 8}).encode(),
     json.dumps({"pred_hate_rate": "high", "unknown_share": 0.0, "probability_histogram": [0.1] * 10,
                 "length_histogram": [0.125] * 8}).encode(),
     b'{"pred_hate_rate": 0.4, "unknown_share": 0.0, "probability_histogram": [NaN, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, '
     b'0.1, 0.1, 0.1], "length_histogram": [0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125]}',
     b'{"pred_hate_rate": 0.4, "unknown_share": 0.0, "probability_histogram": [Infinity, 0, 0, 0, 0, 0, 0, 0, 0, 0], '
     b'"length_histogram": [0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125]}'],
)  # fmt: skip
def test_an_unusable_reference_switches_drift_off_and_metrics_still_answer(trained_model_dir, tmp_path, content):
    """Findings 10 and 17: a NaN share made every PSI NaN; 5, null or bytes that are not UTF-8 stopped the start;
    9 bins, text or Infinity made every /metrics scrape a 500 (losing the request metrics too)."""
    folder = tmp_path / "model"
    shutil.copytree(trained_model_dir, folder)
    (folder / "reference.json").write_bytes(content)
    assert read_reference(content) is None
    with serve(app_module.create_app(str(folder))) as url:
        assert httpx.post(f"{url}/v1/classify", json={"texts": ["hello"]}, timeout=60).status_code == 200
        metrics = httpx.get(f"{url}/metrics", timeout=30)
    assert metrics.status_code == 200 and "hatespeech_window_predictions 1.0" in metrics.text
    assert "hatespeech_drift_psi" not in metrics.text and "hatespeech_requests_total" in metrics.text


def test_the_reference_training_writes_is_usable(trained_model_dir):
    assert read_reference((trained_model_dir / "reference.json").read_bytes()) is not None


def test_garbage_collector_pauses_are_measured_in_every_app_registry():
    import gc

    from prometheus_client import generate_latest

    from hatespeech.serving.service import Telemetry

    first, second = Telemetry(), Telemetry()
    gc.collect(2)
    for telemetry in (first, second):
        metrics = generate_latest(telemetry.registry).decode()
        assert _value(metrics, 'hatespeech_gc_pause_seconds_count{generation="2"}') >= 1
