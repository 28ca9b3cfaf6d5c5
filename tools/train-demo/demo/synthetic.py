"""Synthetic captioned videos: one shape on a plain background, moving in a way a caption states.

A scene is a handful of parameters (shape, colour, motion, background, start position, speed);
`render` draws it as float32 frames in [-1, 1] with anti-aliased edges, and `caption` words it
in one of several phrasings. Held-out scenes (colour, shape, direction, background combinations
that training never sees) are what the engine's behaviour test prompts for.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SHAPES = ["circle", "square", "triangle"]
COLOURS = {  # object colours, RGB 0..255; the behaviour test classifies against these
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "white": (240, 240, 240),
}
BACKGROUNDS = {
    "black": (10, 10, 10),
    "gray": (120, 120, 120),
    "blue": (30, 50, 150),
    "green": (30, 110, 40),
    "purple": (100, 40, 120),
}
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
MOTIONS = list(DIRECTIONS) + ["bouncing", "growing", "still"]

FRAMES = 16
SIZE = 64

# Combinations never shown in training (every one of their wordings is excluded); the Swift
# behaviour test (Tests/DemoTests) prompts for exactly these.
HELD_OUT = [
    ("red", "circle", "right", "blue"),
    ("green", "square", "left", "black"),
    ("blue", "triangle", "up", "gray"),
    ("yellow", "circle", "down", "purple"),
    ("white", "square", "right", "green"),
    ("red", "triangle", "left", "gray"),
    ("green", "circle", "up", "purple"),
    ("blue", "square", "down", "black"),
    ("yellow", "triangle", "right", "black"),
    ("white", "circle", "left", "blue"),
    ("red", "square", "up", "green"),
    ("yellow", "square", "left", "gray"),
]

# Wordings. {c} colour, {s} shape, {b} background, {m} motion phrase.
TEMPLATES = [
    "a {c} {s} {m} on a {b} background",
    "a {c} {s} {m} against a {b} background",
    "{c} {s} {m} on {b}",
    "a {c} {s} {m} in front of a {b} backdrop",
    "on a {b} background a {c} {s} {m}",
    "a {b} background with a {c} {s} {m}",
]
MOTION_PHRASES = {
    "left": ["moving left", "moves to the left", "sliding left", "going left"],
    "right": ["moving right", "moves to the right", "sliding right", "going right"],
    "up": ["moving up", "moves upward", "rising", "going up"],
    "down": ["moving down", "moves downward", "falling", "going down"],
    "bouncing": ["bouncing", "bouncing up and down", "hopping"],
    "growing": ["growing", "getting bigger", "expanding"],
    "still": ["staying still", "not moving", "resting"],
}


def canonical_prompt(colour: str, shape: str, motion: str, background: str) -> str:
    """The wording the behaviour test uses: "a red circle moving right on a blue background"."""
    return TEMPLATES[0].format(c=colour, s=shape, b=background, m=MOTION_PHRASES[motion][0])


@dataclasses.dataclass
class Scene:
    shape: str
    colour: str
    motion: str
    background: str
    x0: float  # start centre, pixels
    y0: float
    radius: float
    speed: float  # pixels per frame (moving), amplitude (bouncing), growth per frame (growing)

    def caption(self, rng: np.random.Generator) -> str:
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        phrases = MOTION_PHRASES[self.motion]
        return template.format(c=self.colour, s=self.shape, b=self.background, m=phrases[rng.integers(len(phrases))])

    def is_held_out(self) -> bool:
        return (self.colour, self.shape, self.motion, self.background) in HELD_OUT


def random_scene(rng: np.random.Generator, allow_held_out: bool = False) -> Scene:
    while True:
        colour = str(rng.choice(list(COLOURS)))
        background = str(rng.choice(list(BACKGROUNDS)))
        if colour == background:
            continue
        # Directional motions are what the test measures: give them half of the data.
        motion = str(rng.choice(list(DIRECTIONS))) if rng.random() < 0.6 else str(rng.choice(MOTIONS[4:]))
        shape = str(rng.choice(SHAPES))
        radius = float(rng.uniform(7.0, 10.0))
        speed = float(rng.uniform(1.6, 2.4))
        travel = speed * (FRAMES - 1)
        lo, hi = radius + 2, SIZE - radius - 2
        x0 = float(rng.uniform(lo, hi))
        y0 = float(rng.uniform(lo, hi))
        if motion in DIRECTIONS:
            dx, dy = DIRECTIONS[motion]
            # Start far enough from the wall the shape moves towards.
            if dx:
                x0 = float(rng.uniform(lo, hi - travel)) if dx > 0 else float(rng.uniform(lo + travel, hi))
            if dy:
                y0 = float(rng.uniform(lo, hi - travel)) if dy > 0 else float(rng.uniform(lo + travel, hi))
        elif motion == "bouncing":
            speed = float(rng.uniform(10.0, 16.0))  # bounce height
            y0 = float(rng.uniform(lo + speed, hi))
        elif motion == "growing":
            radius = float(rng.uniform(4.0, 6.0))
            speed = float(rng.uniform(0.45, 0.6))
            lo, hi = radius + speed * FRAMES + 2, SIZE - radius - speed * FRAMES - 2
            x0, y0 = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
        scene = Scene(shape, colour, motion, background, x0, y0, radius, speed)
        if allow_held_out or not scene.is_held_out():
            return scene


def _trajectory(scene: Scene, t: int) -> tuple[float, float, float]:
    """Centre x, y and radius at frame t."""
    x, y, r = scene.x0, scene.y0, scene.radius
    if scene.motion in DIRECTIONS:
        dx, dy = DIRECTIONS[scene.motion]
        x += dx * scene.speed * t
        y += dy * scene.speed * t
    elif scene.motion == "bouncing":
        phase = (t / (FRAMES / 2)) % 1.0  # two bounces per clip
        y -= scene.speed * 4 * phase * (1 - phase)
    elif scene.motion == "growing":
        r += scene.speed * t
    return x, y, r


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


def _coverage(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] from a signed distance (pixels; negative inside)."""
    dx, dy = _XX - cx, _YY - cy
    if shape == "circle":
        sdf = np.sqrt(dx * dx + dy * dy) - r
    elif shape == "square":
        s = r * 0.9
        sdf = np.maximum(np.abs(dx), np.abs(dy)) - s
    else:  # upward equilateral triangle with circumradius r
        k = math.sqrt(3.0)
        px, py = np.abs(dx), -dy  # y up
        # distance-like function: max of the three edge half-planes
        e1 = -py - r * 0.5  # bottom edge
        e2 = (k * px + py) * 0.5 - r * 0.5
        sdf = np.maximum(e1, e2)
    return np.clip(0.5 - sdf, 0.0, 1.0)


def render(scene: Scene, alpha: bool = False):
    """Frames [3, T, H, W] float32 in [-1, 1] (and the object's coverage [T, H, W] if `alpha`)."""
    bg = np.array(BACKGROUNDS[scene.background], np.float32)[:, None, None] / 127.5 - 1
    fg = np.array(COLOURS[scene.colour], np.float32)[:, None, None] / 127.5 - 1
    out = np.empty((3, FRAMES, SIZE, SIZE), np.float32)
    cover = np.empty((FRAMES, SIZE, SIZE), np.float32)
    for t in range(FRAMES):
        cover[t] = _coverage(scene.shape, *_trajectory(scene, t))
        out[:, t] = bg * (1 - cover[t]) + fg * cover[t]
    return (out, cover) if alpha else out


def batch(rng: np.random.Generator, n: int, alpha: bool = False):
    """n random training scenes: clips [n, 3, T, H, W], scenes, captions (+ coverage [n, T, H, W])."""
    scenes = [random_scene(rng) for _ in range(n)]
    rendered = [render(s, alpha=True) for s in scenes]
    clips = np.stack([r[0] for r in rendered])
    captions = [s.caption(rng) for s in scenes]
    if alpha:
        return clips, scenes, captions, np.stack([r[1] for r in rendered])
    return clips, scenes, captions


def all_caption_texts() -> list[str]:
    """Every wording of every scene (for training the tokenizer)."""
    texts = []
    for c in COLOURS:
        for s in SHAPES:
            for b in BACKGROUNDS:
                for m, phrases in MOTION_PHRASES.items():
                    for p in phrases:
                        for tpl in TEMPLATES:
                            texts.append(tpl.format(c=c, s=s, b=b, m=p))
    return texts
