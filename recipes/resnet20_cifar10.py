"""ResNet-20 on CIFAR-10 with the paper's recipe: SGD momentum 0.9, weight decay 1e-4,
flips and 4-pixel shifts, rate 0.1 divided by 10 at 50% and 75% of training.

Shows: the residual network of He et al. (2016), 0.27M parameters; the paper reports
91.25% after 164 epochs.
Result on a 2-core x86-64 CPU: not run to the end here (CIFAR-10 needs a download). ResNet-20
trains at 678 images/s on 32x32x3 inputs on this CPU (TensorFlow backend, batch 128), so
an epoch of 45,000 images takes about 1.1 minutes and the 164 epochs about 3 hours: run
it on a GPU, or with fewer ``--epochs``.

    python recipes/resnet20_cifar10.py [--epochs 164] [--dataset cifar10] [--backend jax]
"""

from common import parse_args, train

CONFIG = dict(epochs=164, batch_size=128, learning_rate=0.1, weight_decay=1e-4,
              dataset="cifar10")  # fmt: skip


def main(argv=None) -> float:
    args = parse_args(__doc__.splitlines()[0], CONFIG, argv, dataset=True)
    import kcnn

    data = kcnn.data.load_dataset(args.dataset, image_size=(32, 32), validation_split=0.1)
    policy = "crop" if "horizontal_flip" in data.label_rules else "flip_crop"
    config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=CONFIG["learning_rate"],
        optimizer="sgd", weight_decay=CONFIG["weight_decay"], schedule="step",
        augment=policy, verbose=2,
    )  # fmt: skip
    accuracy, *_ = train("resnet20", data, config, args.out)
    return accuracy


if __name__ == "__main__":
    main()
