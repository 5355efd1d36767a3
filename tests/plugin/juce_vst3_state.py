"""Reads and writes the state a JUCE VST3 plugin hands its host, so tests can reach the plugin's
own setStateInformation with chosen bytes (hosts wrap it; raw garbage never gets that far).

Layout: b"VC2!" + uint32 little-endian XML length + XML
`<VST3PluginState><IComponent>SIZE.CHARS</IComponent></VST3PluginState>` + NUL, where SIZE.CHARS
is JUCE's MemoryBlock base-64: 6-bit groups of the little-endian bit stream, in JUCE's alphabet.
"""

import re
import struct

JUCE_BASE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def juce_base64_decode(text: str) -> bytes:
    size, chars = text.split(".", 1)
    value = sum(JUCE_BASE64.index(c) << (6 * i) for i, c in enumerate(chars))
    return value.to_bytes(int(size), "little")


def juce_base64_encode(data: bytes) -> str:
    value = int.from_bytes(data, "little")
    count = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(JUCE_BASE64[(value >> (6 * i)) & 63] for i in range(count))


def component_state(raw_state: bytes) -> bytes:
    """The bytes the plugin's getStateInformation wrote (with JUCE's private data after them)."""
    match = re.search(rb"<IComponent>(.*?)</IComponent>", raw_state)
    assert match, f"not a JUCE VST3 state: {raw_state[:40]!r}"
    return juce_base64_decode(match.group(1).decode())


def with_component_state(payload: bytes) -> bytes:
    """A VST3 state whose component part is exactly `payload`."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <VST3PluginState><IComponent>'
           f"{juce_base64_encode(payload)}</IComponent></VST3PluginState>").encode() + b"\0"
    return b"VC2!" + struct.pack("<I", len(xml)) + xml
