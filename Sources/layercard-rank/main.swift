import LCCLI
runLayerCard(RankCommand.self)
