"""A MettaScope replay (format 4, `.json.z`) rendered as an animated GIF small enough to embed in the report.

Each frame is the map: walls dark, buildings as squares coloured by kind, agents as discs coloured by what they
carry (a heart, else a battery, else ore, else nothing), with a header line holding the step and the reward per
agent so far. Frames are every `every`-th step (default: as many as keep a 1000-step episode at 200 frames),
drawn with Pillow as palette images (one fixed palette) and written as one GIF.
"""

from __future__ import annotations

import bisect
import io
import json
import zlib
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from benchmark.atomic import atomic_target, atomic_write_bytes

BUILDINGS = {
    "mine": (150, 95, 45),
    "generator": (235, 190, 40),
    "altar": (205, 50, 80),
    "armory": (70, 110, 200),
    "lasery": (140, 80, 190),
}
CARRYING = (("heart", (230, 40, 70)), ("battery", (250, 210, 40)), ("ore", (200, 120, 50)))
EMPTY = (235, 235, 235)
WALL, FLOOR, TEXT = (60, 60, 70), (250, 250, 246), (30, 30, 30)
HEADER = 16  # pixels of the text line above the map
# one fixed palette: frames are drawn as palette images, so no frame needs quantising (3x faster to render)
COLOURS = [FLOOR, WALL, TEXT, EMPTY, *BUILDINGS.values(), *(c for _, c in CARRYING)]
INDEX = {colour: i for i, colour in enumerate(COLOURS)}
PALETTE = [v for colour in COLOURS for v in colour] + [0] * (3 * (256 - len(COLOURS)))


def read_replay(path: Path) -> dict[str, Any]:
    raw = Path(path).read_bytes()
    try:
        raw = zlib.decompress(raw)
    except zlib.error:
        pass  # an uncompressed .json replay
    return json.loads(raw)


def value_at(series: Any, step: int, listed: bool = False) -> Any:
    """A replay field at `step`. The writer stores a field as its changes, [[step, value], ...], or, when it
    never changed, as the value itself; so a field whose values are lists (`listed`: location, inventory) is a
    change list only when every entry is a [step, list] pair, a scalar field whenever it is a list."""
    if not isinstance(series, list) or not series:
        return series
    if listed and not all(isinstance(e, list) and len(e) == 2 and isinstance(e[1], list) for e in series):
        return series
    keys = [s for s, _ in series]
    i = bisect.bisect_right(keys, step) - 1
    return series[max(i, 0)][1]


class Renderer:
    def __init__(self, replay: dict[str, Any], cell: int | None = None):
        self.replay = replay
        self.width, self.height = replay["map_size"]
        self.cell = cell or max(4, min(16, 480 // max(self.width, self.height)))
        self.items = replay["item_names"]
        objects = replay["objects"]
        self.walls = [o for o in objects if o.get("type_name") == "wall"]
        self.buildings = [o for o in objects if o.get("type_name") in BUILDINGS]
        self.agents = [o for o in objects if "agent_id" in o]
        self.base = self._background()

    def _box(self, x: int, y: int, inset: int = 0) -> tuple[int, int, int, int]:
        c = self.cell
        return (x * c + inset, HEADER + y * c + inset, (x + 1) * c - 1 - inset, HEADER + (y + 1) * c - 1 - inset)

    def _background(self) -> Image.Image:
        img = Image.new("P", (self.width * self.cell, HEADER + self.height * self.cell), INDEX[FLOOR])
        img.putpalette(PALETTE)
        draw = ImageDraw.Draw(img)
        for wall in self.walls:
            x, y = value_at(wall["location"], 0, listed=True)
            draw.rectangle(self._box(x, y), fill=INDEX[WALL])
        return img

    def carried(self, agent: dict, step: int) -> tuple[int, int, int]:
        held = {self.items[i]: n for i, n in value_at(agent.get("inventory", []), step, listed=True) or []}
        return next((colour for item, colour in CARRYING if held.get(item, 0) > 0), EMPTY)

    def frame(self, step: int) -> Image.Image:
        img = self.base.copy()
        draw = ImageDraw.Draw(img)
        for building in self.buildings:
            if value_at(building.get("alive", True), step) is False:
                continue
            x, y = value_at(building["location"], step, listed=True)
            draw.rectangle(self._box(x, y, 1), fill=INDEX[BUILDINGS[building["type_name"]]])
        reward = 0.0
        for agent in self.agents:
            reward += float(value_at(agent.get("total_reward", 0.0), step) or 0.0)
            if value_at(agent.get("alive", True), step) is False:
                continue
            x, y = value_at(agent["location"], step, listed=True)
            box = self._box(x, y, max(1, self.cell // 8))
            draw.ellipse(box, fill=INDEX[self.carried(agent, step)], outline=INDEX[TEXT])
        per_agent = reward / max(len(self.agents), 1)
        draw.text((2, 2), f"step {step:4d}   reward/agent {per_agent:5.2f}", fill=INDEX[TEXT])
        return img


FORMATS = (".gif", ".mp4")  # GIF: Pillow, embedded in the report; MP4 (H.264): imageio-ffmpeg, the `video` extra


def render_gif(replay_path: Path, out: Path, every: int | None = None, frame_ms: int = 80) -> dict[str, Any]:
    """Write the animation (a GIF, or an MP4 when `out` ends in .mp4); returns what was made (frames, every,
    pixels, bytes)."""
    replay = read_replay(replay_path)
    steps = int(replay["max_steps"])
    every = every or max(1, -(-steps // 200))
    renderer = Renderer(replay)
    frames = [renderer.frame(step) for step in range(0, steps, every)]
    frames.append(renderer.frame(steps - 1))
    if out.suffix.lower() == ".mp4":
        _write_mp4(frames, out, fps=1000 / frame_ms)
    else:
        gif = io.BytesIO()
        frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
        atomic_write_bytes(out, gif.getvalue(), fsync=False)  # a unique temporary name: reports may render at once
    return {"frames": len(frames), "every": every, "size": frames[0].size, "bytes": out.stat().st_size}


def _write_mp4(frames: list[Image.Image], out: Path, fps: float) -> None:
    """H.264 through the ffmpeg binary that imageio-ffmpeg ships (no system ffmpeg needed); frames are padded to
    even sizes (yuv420p)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise RuntimeError("an .mp4 needs imageio-ffmpeg: pip install 'archbench[video]' (or write a .gif)") from None
    width, height = frames[0].size
    size = (width + width % 2, height + height % 2)
    with atomic_target(out) as partial:
        writer = imageio_ffmpeg.write_frames(str(partial), size, fps=fps, macro_block_size=2, ffmpeg_log_level="error")
        try:
            writer.send(None)  # start ffmpeg
            for frame in frames:
                canvas = Image.new("RGB", size, FLOOR)
                canvas.paste(frame.convert("RGB"), (0, 0))
                writer.send(canvas.tobytes())
        finally:
            writer.close()
