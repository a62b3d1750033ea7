"""SimpleCNN on Fashion-MNIST, trained to the top of the 2-conv entries of the benchmark.

Shows: two conv+BatchNorm blocks with a dropout head reach 93% with one-cycle AdamW and
horizontal flips; the Fashion-MNIST benchmark's best 2-conv entries are 92-93.4%.
Result on a 2-core x86-64 CPU (TensorFlow backend, 20 epochs): test accuracy 0.9306
(best validation 0.937) in 8.8 minutes of training, measured while a second run shared
the two cores. The CIFAR standard ``flip_crop`` (shifts of up to 4 pixels) did worse in
the same 20 epochs: 0.909, the network still underfitting; 30 epochs of it with label
smoothing 0.1 gave 0.916.

    python recipes/simple_cnn_fashion_mnist.py [--epochs 20] [--backend jax] [--out runs]
"""

from common import parse_args, train

CONFIG = dict(
    epochs=20, batch_size=128, learning_rate=3e-3, optimizer="adamw", weight_decay=5e-4,
    schedule="onecycle", augment=["horizontal_flip"], label_smoothing=0.0,
    dataset="fashion_mnist",
)  # fmt: skip


def main(argv=None) -> float:
    args = parse_args(__doc__.splitlines()[0], CONFIG, argv, dataset=True)
    import kcnn

    data = kcnn.data.load_dataset(args.dataset, validation_split=0.1)
    config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size,
        **{k: CONFIG[k] for k in ("learning_rate", "optimizer", "weight_decay", "schedule",
                                  "augment", "label_smoothing")},
        verbose=2,
    )  # fmt: skip
    accuracy, *_ = train("simple_cnn", data, config, args.out)
    return accuracy


if __name__ == "__main__":
    main()
