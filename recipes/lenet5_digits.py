"""LeNet-5 on scikit-learn's handwritten digits, resized from 8x8 to 32x32.

Shows: the classic 1998 architecture (conv 5x5 -> pool -> conv 5x5 -> pool -> 120 -> 84 ->
10) learns the 1,797 digits that ship with scikit-learn, no download needed.
Result on a 2-core x86-64 CPU (TensorFlow backend, 20 epochs): test accuracy 0.972,
0.7 minutes of training (54 s in all with start-up).

    python recipes/lenet5_digits.py [--epochs 20] [--backend jax] [--out runs]
"""

from common import parse_args, train

CONFIG = dict(epochs=20, batch_size=32, learning_rate=1e-3, optimizer="adam", image_size=32)


def main(argv=None) -> float:
    args = parse_args(__doc__.splitlines()[0], CONFIG, argv)
    import kcnn

    size = CONFIG["image_size"]
    data = kcnn.data.load_dataset("digits", image_size=(size, size))
    config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=CONFIG["learning_rate"],
        optimizer=CONFIG["optimizer"], verbose=2,
    )  # fmt: skip
    accuracy, *_ = train("lenet5", data, config, args.out)
    return accuracy


if __name__ == "__main__":
    main()
