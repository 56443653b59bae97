"""Static int8 quantisation of the encoder: fixed activation scales, so a post's vector never
depends on the posts it is batched with.

Dynamic int8 picks each activation scale from the batch tensor at run time, so the same text
got slightly different features in different batches (labels near a boundary flipped between a
replay and the live run). Here the scales are fixed once, from activation ranges measured on
training tweets (:func:`calibrate`), and shipped as a small JSON file; building the graph on a
fresh machine (:func:`quantize_static_int8`) needs only that file and the packaged weights.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = ["RANGES_FILE", "calibrate", "encoder_batches", "quantize_static_int8", "required_tensors"]

RANGES_FILE = Path(__file__).parent / "artifacts" / "encoder" / "activation_ranges.json"
"""Activation ranges of the exported MiniLM graph, written by ``hypermicro train encoder``."""
_OP_TYPES = ["MatMul"]
"""The matrix products (linear layers and attention products, about 90 % of the encoder's CPU)
run in int8; softmax, layer norm and GELU stay float, as in the dynamic recipe."""


def required_tensors(fp32_path: Path) -> set[str]:
    """Names of the activations (non-constant MatMul inputs) that need a calibrated range."""
    import onnx

    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    return {i for n in graph.node if n.op_type in _OP_TYPES for i in n.input if i and i not in constants}


def _options() -> dict[str, object]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    return {
        "quant_format": QuantFormat.QDQ, "op_types_to_quantize": _OP_TYPES, "per_channel": True,
        "weight_type": QuantType.QInt8, "activation_type": QuantType.QUInt8,
        "calibrate_method": CalibrationMethod.MinMax,
        # Inputs only, as dynamic int8 does: ORT's QDQ quantiser otherwise also rounds every
        # MatMul output to uint8, which took the embeddings from 0.988 to 0.93 cosine of the float model.
        "extra_options": {"OpTypesToExcludeOutputQuantization": _OP_TYPES},
    }


def quantize_static_int8(fp32_path: Path, out_path: Path, ranges_path: Path = RANGES_FILE) -> None:
    """Quantise ``fp32_path`` with per-channel int8 weights and the fixed activation ranges of
    ``ranges_path``; refuses ranges that do not cover this graph's activations."""
    from onnxruntime.quantization import quantize_static

    if not ranges_path.is_file():
        raise FileNotFoundError(f"activation ranges not found: {ranges_path} (run `hypermicro train encoder`)")
    ranges = json.loads(ranges_path.read_text(encoding="utf-8"))
    missing = required_tensors(fp32_path) - set(ranges.get("data", {}))
    if missing:
        raise ValueError(f"{ranges_path} lacks ranges for {len(missing)} activations of this export "
                         f"(e.g. {sorted(missing)[0]}): run `hypermicro train encoder` for it")
    quantize_static(str(fp32_path), str(out_path), calibration_data_reader=None,
                    calibration_cache_path=str(ranges_path), **_options())


def calibrate(fp32_path: Path, batches: Iterator[dict[str, np.ndarray]], ranges_path: Path) -> int:
    """Measure the min/max of every quantised activation over ``batches`` (encoder inputs) and
    write them to ``ranges_path``; returns the number of activations covered."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    class _Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(batches, None)

    ranges_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        cache = Path(tmp) / "ranges.json"  # written by ORT; absent, so the ranges are measured
        quantize_static(str(fp32_path), str(Path(tmp) / "int8.onnx"), calibration_data_reader=_Reader(),
                        calibration_cache_path=str(cache), **_options())
        data = json.loads(cache.read_text(encoding="utf-8"))
    ranges_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return len(data.get("data", {}))


def encoder_batches(texts: Sequence[str], source: Path, batch_size: int = 64) -> Iterator[dict[str, np.ndarray]]:
    """The encoder's inputs for ``texts`` in length-sorted, padded batches (as the worker feeds them)."""
    from models.embedding import MAX_LENGTH, _LengthBatcher

    for _, ids, mask in _LengthBatcher(source, MAX_LENGTH, batch_size).batches(texts):
        yield {"input_ids": ids, "attention_mask": mask}
