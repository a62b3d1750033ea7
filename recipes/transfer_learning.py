"""Transfer learning in two phases: a frozen pretrained backbone with a linear head, then
fine-tuning, on 500 images per class.

Shows: the lesson's lab. Features learnt on one task serve another from few labels; the
frozen backbone is trained on nothing but the head; fine-tuning at a low rate then adapts
the features a little. "From scratch" is the same network trained on the same few images.

Two sources of pretrained features:
- ``--backbone pretrain`` (default, works offline): SimpleCNN learns Fashion-MNIST classes
  0-4 (T-shirt, trouser, pullover, dress, coat) on all their 30,000 training images; the
  task is classes 5-9 (sandal, shirt, sneaker, bag, ankle boot) from 500 images each.
- ``--backbone mobilenet_v2`` (or any keras.applications name, ImageNet weights, downloaded
  once) on ``--dataset cifar10``, resized to 96x96 inside the model.

Result on a 2-core x86-64 CPU (TensorFlow backend, defaults, 1.5 minutes in all): test
accuracy on classes 5-9 with 500 images per class: frozen backbone + linear head 0.717,
after fine-tuning every layer (lr 1e-3, 10 epochs) 0.885, from scratch (15 epochs) 0.964.
With ``--per-class 50``: 0.420, 0.689 and 0.917. A negative result, and the lesson's
caveat: five clothing classes are too narrow a source. Their pooled features say little
about sandals, sneakers and bags, which a small network learns from scratch in a minute.
The same frozen features still beat random frozen ones by 13-23 points
(tests/models/test_transfer.py). Transfer pays when the source is large and general, as
ImageNet is, and the labelled target set small: ``--backbone mobilenet_v2`` (not measured
here: it needs the weights' download).

    python recipes/transfer_learning.py [--backbone pretrain|mobilenet_v2] [--per-class 500]
"""

from common import parse_args, test_accuracy, train

CONFIG = dict(
    epochs=10,  # phase one: the head on the frozen backbone
    fine_tune_epochs=10,
    batch_size=64,
    per_class=500,
    backbone="pretrain",
    dataset=None,  # fashion_mnist with --backbone pretrain, else cifar10
    pretrain_epochs=3,
    head_lr=3e-3,
    fine_tune_lr=1e-3,
    fine_tune_layers="all",
    image_size=96,  # for keras.applications backbones
)


def main(argv=None) -> dict:
    def flags(parser):
        parser.add_argument(
            "--backbone",
            default=CONFIG["backbone"],
            help="'pretrain' (offline) or a keras.applications name",
        )
        parser.add_argument("--per-class", type=int, default=CONFIG["per_class"])
        parser.add_argument("--fine-tune-epochs", type=int, default=CONFIG["fine_tune_epochs"])

    args = parse_args(__doc__.splitlines()[0], CONFIG, argv, dataset=True, extra=flags)
    if args.dataset is None:
        args.dataset = "fashion_mnist" if args.backbone == "pretrain" else "cifar10"
    import dataclasses
    import time

    import keras

    import kcnn

    start = time.perf_counter()
    data = kcnn.data.load_dataset(args.dataset)
    head_config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=CONFIG["head_lr"],
        optimizer="adamw", schedule="cosine", verbose=2,
    )  # fmt: skip
    if args.backbone == "pretrain":
        source = data.subset(classes=[0, 1, 2, 3, 4])
        task = data.subset(classes=[5, 6, 7, 8, 9], per_class=args.per_class)
        keras.utils.set_random_seed(0)
        base = kcnn.build_model("simple_cnn", num_classes=5, input_shape=data.input_shape)
        config = kcnn.train.TrainConfig(
            epochs=CONFIG["pretrain_epochs"], batch_size=128, learning_rate=3e-3,
            optimizer="adamw", schedule="onecycle", verbose=2,
        )  # fmt: skip
        _, run = kcnn.train.fit(base, source, config, run_dir=args.out)
        print(f"pretrained on {source.name}: run {run}")
        model = kcnn.build_model(
            "transfer", backbone=str(run / "model.keras"), weights=None,
            num_classes=task.num_classes, input_shape=task.input_shape,
        )  # fmt: skip
        scratch_name = "simple_cnn"
    else:
        task = data.subset(per_class=args.per_class)
        size = CONFIG["image_size"]
        model = kcnn.build_model(
            "transfer", backbone=args.backbone, weights="imagenet",
            num_classes=task.num_classes, input_shape=task.input_shape, image_size=(size, size),
        )  # fmt: skip
        scratch_name = "resnet20"

    results = {}
    _, run = kcnn.train.fit(model, task, head_config, run_dir=args.out)
    results["frozen"] = test_accuracy(run)
    print(f"frozen backbone + linear head on {task.name}: {results['frozen']:.4f}")
    tune_config = kcnn.train.TrainConfig(
        batch_size=args.batch_size, optimizer="adamw", schedule="cosine", verbose=2
    )
    _, run = kcnn.train.fine_tune(
        model, task, unfreeze=CONFIG["fine_tune_layers"], lr=CONFIG["fine_tune_lr"],
        epochs=args.fine_tune_epochs, config=tune_config, run_dir=args.out,
    )  # fmt: skip
    results["fine_tuned"] = test_accuracy(run)
    print(f"after fine-tuning: {results['fine_tuned']:.4f}")

    epochs = args.epochs + args.fine_tune_epochs  # the same budget as both phases
    results["scratch"], *_ = train(
        scratch_name, task, dataclasses.replace(head_config, epochs=epochs), args.out,
        label="from scratch",
    )  # fmt: skip
    minutes = (time.perf_counter() - start) / 60
    print(
        f"test accuracy on {task.name}: frozen {results['frozen']:.4f}, fine-tuned "
        f"{results['fine_tuned']:.4f}, from scratch {results['scratch']:.4f}; {minutes:.1f} min"
    )
    return results


if __name__ == "__main__":
    main()
