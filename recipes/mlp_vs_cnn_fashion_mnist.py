"""A fully connected network against a CNN on Fashion-MNIST, same budget.

Shows: the lesson's comparison. The MLP sees 784 unrelated numbers; the CNN shares 3x3
filters across the image and pools, so it learns more from fewer weights.
Result on a 2-core x86-64 CPU (TensorFlow backend, 5 epochs): MLP 0.882 test accuracy
with 535,818 parameters in 0.9 minutes; SimpleCNN 0.914 with 421,738 in 3.4 minutes.

    python recipes/mlp_vs_cnn_fashion_mnist.py [--epochs 5] [--backend torch]
"""

from common import parse_args, train

CONFIG = dict(epochs=5, batch_size=64, learning_rate=3e-3, dataset="fashion_mnist")


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], CONFIG, argv, dataset=True)
    import kcnn

    data = kcnn.data.load_dataset(args.dataset)
    config = kcnn.train.TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=CONFIG["learning_rate"],
        optimizer="adamw", schedule="onecycle", verbose=2,
    )  # fmt: skip
    results, histories = {}, {}
    for name in ("mlp", "simple_cnn"):
        results[name], histories[name], run, _ = train(name, data, config, args.out)
        params = kcnn.inspect.count_params(kcnn.build_model(name))["trainable"]
        print(f"  {name}: {params:,} trainable parameters")
    kcnn.inspect.plot_histories(histories, f"{args.out}/mlp_vs_cnn.png",
                                title=f"MLP vs CNN on {data.name}")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
