import LCCLI
runLayerCard(LoadCommand.self)
