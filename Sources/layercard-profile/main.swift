import LCCLI
runLayerCard(ProfileCommand.self)
