"""``kcnn check-data``: decode every image of a folder or CSV and list the bad files."""

from __future__ import annotations

from kcnn.cli._common import text_type


def add_parser(commands) -> None:
    check = commands.add_parser(
        "check-data",
        help="list the images of a folder or CSV that cannot be decoded",
        description="Decode every image of PATH (a folder of class folders, or train/, val/ "
        "and test/ folders of them, or a CSV of filename,label rows) without training. "
        "Prints the images per split and class, their sizes, and every file that cannot be "
        "decoded (damaged, truncated, not an image, a decompression bomb): `kcnn train` "
        "leaves those out. Exits 1 when there is one, else 0.",
    )
    check.add_argument("path", help="the folder or CSV file")
    check.add_argument(
        "--workers",
        type=text_type(int),
        help="processes decoding in parallel (default: the cores but one from 2,000 images)",
    )
    check.set_defaults(run=run)


def run(args) -> int:
    from kcnn.data.stream import verify_images

    check = verify_images(args.path, workers=args.workers)
    print(check.to_text())
    return 0 if check.ok else 1
