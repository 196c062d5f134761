"""Streaming live 3D joints out to game engines and other tools (OSC over UDP, WebSocket JSON)."""

from core.streaming.osc import OSCStreamer, decode_osc, encode_bundle, encode_message, streamer_from_url
from core.streaming.websocket import WebSocketStreamer

__all__ = ["OSCStreamer", "WebSocketStreamer", "decode_osc", "encode_bundle", "encode_message", "streamer_from_url"]
