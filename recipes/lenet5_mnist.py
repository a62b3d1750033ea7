"""LeNet-5 on MNIST: the classic variant (tanh, average pooling) against the modern one
(ReLU, max pooling), same budget.

Shows: what two decades of small changes buy on the data set LeNet was made for.
Result on a 2-core x86-64 CPU: not measured here (MNIST needs a download, and this machine
has none); with ``--dataset fashion_mnist --epochs 3`` (same format, TensorFlow backend):
test accuracy 0.854 classic, 0.874 modern, 1.5 minutes of training for both.

    python recipes/lenet5_mnist.py [--epochs 5] [--dataset mnist] [--backend torch]
"""

from common import parse_args, train

CONFIG = dict(epochs=5, batch_size=64, learning_rate=1e-3, dataset="mnist")


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], CONFIG, argv, dataset=True)
    import kcnn

    data = kcnn.data.load_dataset(args.dataset)
    config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=CONFIG["learning_rate"],
        verbose=2,
    )  # fmt: skip
    results, histories = {}, {}
    for variant in ("classic", "modern"):
        results[variant], histories[variant], *_ = train(
            "lenet5", data, config, args.out, label=f"LeNet-5 {variant}", variant=variant
        )
    kcnn.inspect.plot_histories(histories, f"{args.out}/lenet5_variants.png",
                                title=f"LeNet-5 variants on {data.name}")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
