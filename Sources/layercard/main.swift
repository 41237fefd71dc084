import LCCLI
runLayerCard(RootCommand.self)
