"""Static int8 quantisation with shipped activation ranges, on a tiny real ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from models.quantization import RANGES_FILE, calibrate, quantize_static_int8, required_tensors


def _two_layer_graph(path: Path) -> None:
    """x (n, 16) -> MatMul W1 -> Relu -> MatMul W2 -> y (n, 4)."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(16, 32)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(32, 4)).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_calibrated_ranges_give_batch_independent_outputs(tmp_path: Path) -> None:
    fp32, int8, ranges = tmp_path / "fp32.onnx", tmp_path / "int8.onnx", tmp_path / "ranges.json"
    _two_layer_graph(fp32)
    assert required_tensors(fp32) == {"x", "r"}
    rng = np.random.default_rng(1)
    covered = calibrate(fp32, iter([{"x": rng.normal(size=(8, 16)).astype(np.float32)} for _ in range(4)]), ranges)
    assert covered >= 2 and {"x", "r"} <= set(json.loads(ranges.read_text())["data"])
    quantize_static_int8(fp32, int8, ranges)
    nodes = onnx.load(str(int8)).graph.node
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in nodes}
    # the two activations are quantised, the MatMul outputs stay float (as in dynamic int8)
    assert sorted(n.input[0] for n in nodes if n.op_type == "QuantizeLinear") == ["r", "x"]
    x = 0.5 * rng.normal(size=(6, 16)).astype(np.float32)  # inside the calibrated range
    together = _run(int8, x)
    # the same row alone, or next to a row with ten times larger activations (clipped to the
    # calibrated range), gives the same output
    loud = np.vstack([x[:1], 10 * x[1:2]])
    np.testing.assert_allclose(_run(int8, x[:1]), together[:1], atol=1e-5)
    np.testing.assert_allclose(_run(int8, loud)[:1], together[:1], atol=1e-5)
    ref = _run(fp32, x)
    assert np.abs(together - ref).max() <= 0.05 * np.abs(ref).max()


def test_ranges_that_do_not_cover_the_graph_are_refused(tmp_path: Path) -> None:
    fp32, ranges = tmp_path / "fp32.onnx", tmp_path / "ranges.json"
    _two_layer_graph(fp32)
    rng = np.random.default_rng(2)
    calibrate(fp32, iter([{"x": rng.normal(size=(4, 16)).astype(np.float32)}]), ranges)
    doc = json.loads(ranges.read_text())
    del doc["data"]["r"]
    ranges.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="hypermicro train encoder"):
        quantize_static_int8(fp32, tmp_path / "int8.onnx", ranges)
    with pytest.raises(FileNotFoundError, match="hypermicro train encoder"):
        quantize_static_int8(fp32, tmp_path / "int8.onnx", tmp_path / "absent.json")


def test_shipped_ranges_are_present_with_provenance() -> None:
    doc = json.loads(RANGES_FILE.read_text())
    assert doc["calibration_method"] and len(doc["data"]) >= 48
    prov = json.loads((RANGES_FILE.parent / "provenance.json").read_text())
    assert prov["command"].startswith("hypermicro train encoder") and prov["activations"] == len(doc["data"])
