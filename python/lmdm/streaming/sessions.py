"""ONNX Runtime session options shared by every Python runner of a package's graphs."""

import onnxruntime


def session_options(threads: int = 1) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle pool threads must sleep, not spin: several sessions (and torch) take turns on few cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
